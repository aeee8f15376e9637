// The dashboard's files (docs/dashboard.md): `ui/` at the package's root, served at /ui/NAME.
// Read on the first request for each and kept (they are small), so a node that no one watches
// reads nothing and keeps nothing; each answer carries an ETag, so a browser that has a file asks
// again with If-None-Match and gets an empty 304.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface UiAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const contentTypes: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/** A file name the dashboard may serve: no directories, no dot files, a known type. */
const assetName = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png)$/;
/**
 * The explanations the page's notes link to: `docs/README.md` (the package's README) and
 * `docs/NAME.md` (its docs/), served as plain text — the node renders no Markdown.
 */
const docName = /^docs\/(README|[a-z0-9][a-z0-9-]*)\.md$/;

/** Where the files are: `ui/` beside `dist/` (this module is dist/src/server/ui-assets.js). */
const uiDir = new URL('../../../ui/', import.meta.url);

export class UiAssets {
  private readonly cache = new Map<string, Promise<UiAsset | null>>();

  /** The file `name`, or null when there is no such file to serve. */
  get(name: string): Promise<UiAsset | null> {
    const file = this.fileOf(name);
    if (file === null) return Promise.resolve(null);
    let asset = this.cache.get(name);
    if (asset === undefined) {
      asset = this.read(name, file.url, file.contentType);
      this.cache.set(name, asset);
    }
    return asset;
  }

  /** Where `name` is and what it is, or null for a name that is not served. */
  private fileOf(name: string): { url: URL; contentType: string } | null {
    const type = assetName.exec(name)?.[1];
    if (type !== undefined) return { url: new URL(name, uiDir), contentType: contentTypes[type]! };
    const doc = docName.exec(name)?.[1];
    if (doc === undefined) return null;
    // The package's root is ui/'s parent: README.md there, the docs in docs/.
    const url = new URL(doc === 'README' ? '../README.md' : `../docs/${doc}.md`, uiDir);
    return { url, contentType: 'text/plain; charset=utf-8' };
  }

  private async read(name: string, url: URL, contentType: string): Promise<UiAsset | null> {
    let body: Buffer;
    try {
      body = await readFile(url);
    } catch {
      // Not there (or unreadable): not cached, so a file added later is found.
      this.cache.delete(name);
      return null;
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    return { body, contentType, etag };
  }
}
