import { describeEventStoreConformance } from '../conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from './memoryEventStore.ts';

describeEventStoreConformance('in-memory', { open: async () => createMemoryEventStore() });
