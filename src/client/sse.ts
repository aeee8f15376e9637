// Server-Sent Events as the HTML standard reads them (§9.2.6, "Interpreting an event stream"):
// lines end with CR LF, LF or CR (a CR at the end of one chunk and an LF at the start of the next
// are one line end); a line starting with ":" is a comment; `field: value` (one space after the
// colon dropped); a blank line ends a block. Unlike a browser's EventSource, every block is handed
// over — comments-only and id-only ones too — because a watch reads progress from them.

/** One block of lines, up to a blank line. */
export interface SseBlock {
  /** The `event` field; null when absent (an EventSource would call it "message"). */
  readonly event: string | null;
  /** The `data` lines joined with "\n"; null when the block has none (nothing to dispatch). */
  readonly data: string | null;
  /** The `id` field of this block; null when absent. */
  readonly id: string | null;
}

export class SseParser {
  /** The start of a line whose end has not arrived. */
  private partial = '';
  /** The last chunk ended with CR: an LF starting the next one ends no second line. */
  private afterCr = false;
  private started = false;
  private event: string | null = null;
  private data: string[] = [];
  private id: string | null = null;
  /** Lines in the block so far (comments included). */
  private lines = 0;

  /** The blocks that `text` (the next piece of the stream, decoded) completes. */
  push(text: string): SseBlock[] {
    // Nothing to read (and a CR just read still waits to see whether an LF follows).
    if (text === '') return [];
    let t = text;
    if (!this.started && t.length > 0) {
      this.started = true;
      if (t.charCodeAt(0) === 0xfeff) t = t.slice(1);
    }
    if (this.afterCr && t.startsWith('\n')) t = t.slice(1);
    this.afterCr = false;
    const blocks: SseBlock[] = [];
    let from = 0;
    for (;;) {
      const end = lineEnd(t, from);
      if (end < 0) break;
      this.line(this.partial + t.slice(from, end), blocks);
      this.partial = '';
      if (t[end] === '\r') {
        if (end + 1 === t.length) {
          this.afterCr = true;
          from = end + 1;
          break;
        }
        from = t[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        from = end + 1;
      }
    }
    this.partial += t.slice(from);
    return blocks;
  }

  private line(line: string, out: SseBlock[]): void {
    if (line === '') {
      if (this.lines > 0)
        out.push({
          event: this.event,
          data: this.data.length === 0 ? null : this.data.join('\n'),
          id: this.id,
        });
      this.event = null;
      this.data = [];
      this.id = null;
      this.lines = 0;
      return;
    }
    this.lines++;
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    // `retry` and unknown fields are ignored.
  }
}

/** Where the next line end (CR or LF) at or after `from` is; -1 if none. */
function lineEnd(t: string, from: number): number {
  for (let i = from; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
