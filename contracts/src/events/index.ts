export * from './birthRegistered.ts';
export * from './dataSets.ts';
export * from './events.ts';
export * from './upcasting.ts';
export * from './plausibility.ts';
