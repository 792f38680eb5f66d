/**
 * Where bytes come from. A parser or the engine is handed a ByteSource and never
 * knows whether it is a local file, an HTTP range reader or an in-memory buffer.
 */
export interface ByteSource {
  /** What to call this source in messages: a path or a URL without credentials. */
  readonly name: string;
  /** Total size in bytes. Numbers are exact up to 2^53, far beyond any checkpoint. */
  readonly size: number;
  /**
   * Reads bytes [start, end) into `into` (from its offset 0) when given, else into a
   * new buffer, and returns a view of exactly end - start bytes. A short read is an
   * error (IoError), never a short result.
   */
  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}
