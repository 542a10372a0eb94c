/**
 * A compact table of media types by file extension, for static files and `res.send`.
 *
 * Deliberately small: the types browsers and common tooling need. Textual types carry
 * `charset=utf-8` (RFC 9110 §8.3.2: a sender SHOULD name the charset of text). Anything
 * unknown is served as `application/octet-stream` (RFC 9110 §8.3: a sender that does not
 * know the type SHOULD omit Content-Type or send octet-stream; browsers then download
 * rather than sniff, together with `X-Content-Type-Options: nosniff`).
 */

const UTF8 = '; charset=utf-8';

/** Extension (lowercase, without the dot) → media type. */
export const MIME_TYPES: Readonly<Record<string, string>> = Object.freeze({
  // text
  html: `text/html${UTF8}`,
  htm: `text/html${UTF8}`,
  css: `text/css${UTF8}`,
  csv: `text/csv${UTF8}`,
  txt: `text/plain${UTF8}`,
  text: `text/plain${UTF8}`,
  md: `text/markdown${UTF8}`,
  markdown: `text/markdown${UTF8}`,
  ics: `text/calendar${UTF8}`,
  vtt: `text/vtt${UTF8}`,
  // scripts and data
  js: `text/javascript${UTF8}`,
  mjs: `text/javascript${UTF8}`,
  cjs: `text/javascript${UTF8}`,
  json: `application/json${UTF8}`,
  map: `application/json${UTF8}`,
  jsonld: `application/ld+json${UTF8}`,
  webmanifest: `application/manifest+json${UTF8}`,
  xml: `application/xml${UTF8}`,
  xhtml: `application/xhtml+xml${UTF8}`,
  rss: `application/rss+xml${UTF8}`,
  atom: `application/atom+xml${UTF8}`,
  yaml: `application/yaml${UTF8}`,
  yml: `application/yaml${UTF8}`,
  wasm: 'application/wasm',
  // images
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  svg: `image/svg+xml${UTF8}`,
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  // fonts
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  // audio and video
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  mov: 'video/quicktime',
  // documents and archives
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  '7z': 'application/x-7z-compressed',
  epub: 'application/epub+zip',
});

/** Served when an extension is unknown. */
export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/**
 * The media type for a file name or path by its extension (case-insensitive), or
 * `undefined` when the extension is unknown or absent. Dotfiles such as `.env` have no
 * extension.
 */
export function lookupMimeType(fileName: string): string | undefined {
  const slash = Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\'));
  const base = fileName.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const ext = base.slice(dot + 1).toLowerCase();
  return Object.hasOwn(MIME_TYPES, ext) ? MIME_TYPES[ext] : undefined;
}

/** Like `lookupMimeType`, falling back to `application/octet-stream`. */
export function mimeTypeFor(fileName: string): string {
  return lookupMimeType(fileName) ?? DEFAULT_MIME_TYPE;
}
