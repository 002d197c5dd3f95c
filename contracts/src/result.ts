/** Outcome of an operation whose failure is expected (bad input), shaped like zod's `safeParse`. */
export type Result<T, E> = { readonly success: true; readonly data: T } | { readonly success: false; readonly error: E };

export const ok = <T>(data: T): { readonly success: true; readonly data: T } => ({ success: true, data });
export const fail = <E>(error: E): { readonly success: false; readonly error: E } => ({ success: false, error });

/**
 * A typed error: `code` is what a caller branches on and what a command prints with `--json`;
 * `message` says it in words. Subclasses name the codes they use and set `name`.
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
