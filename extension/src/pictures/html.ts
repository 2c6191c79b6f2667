// The webview page shell shared by the pictures: HTML escaping, nonces, the strict Content-Security-Policy, theme-coloured CSS (no vscode import).

/** Escape text for HTML/SVG text and attribute values (& < > " '). Everything guest-controlled goes through this. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** A finite number as decimal text (anything else as "?"): numbers in the pictures are always formatted here. */
export function num(n: unknown, digits = 0): string {
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '?';
}

/** A non-negative integer as 0x… (lower-case); anything else as "?". */
export function hexNum(n: unknown, pad = 0): string {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? '0x' + n.toString(16).padStart(pad, '0') : '?';
}

/** A hex string of a view model ("0x1f") passed through only when it is one; else "?" (never raw text). */
export function hexStr(s: unknown): string {
  return typeof s === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(s) ? s.toLowerCase() : '?';
}

/** A random nonce (128 bits, base64) from the Web Crypto API (Node 20 and browsers). */
export function makeNonce(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** JSON safe to embed in a <script>: no "</script>", "<!--", or line separators can end it early. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** What the page needs from its webview: the CSP source (webview.cspSource) and a fresh nonce. */
export interface PageContext {
  cspSource: string;
  nonce: string;
}

/** A page context for tests and saved examples (no webview). */
export function testPageContext(): PageContext {
  return { cspSource: 'https://example.vscode-cdn.net', nonce: makeNonce() };
}

/** The Content-Security-Policy: nothing by default, styles and scripts only with the nonce, images from the extension or data: URIs. */
export function csp(ctx: PageContext): string {
  return `default-src 'none'; style-src ${ctx.cspSource} 'nonce-${ctx.nonce}'; script-src 'nonce-${ctx.nonce}'; img-src ${ctx.cspSource} data:;`;
}

/** Theme-aware CSS: every colour from VS Code's CSS variables, with fallbacks for a plain browser. */
const BASE_CSS = `
:root {
  --fg: var(--vscode-editor-foreground, #1f1f1f);
  --bg: var(--vscode-editor-background, #ffffff);
  --muted: var(--vscode-descriptionForeground, #6c6c6c);
  --border: var(--vscode-panel-border, #c8c8c8);
  --box: var(--vscode-editorWidget-background, #f3f3f3);
  --path: var(--vscode-charts-blue, #1a73e8);
  --hot: var(--vscode-charts-orange, #d18616);
  --ok: var(--vscode-charts-green, #388a34);
  --bad: var(--vscode-errorForeground, #e51400);
  --link: var(--vscode-textLink-foreground, #006ab1);
}
body { color: var(--fg); background: var(--bg); font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); margin: 8px 12px; }
h1 { font-size: 1.25em; margin: 0.2em 0 0.5em; }
h2 { font-size: 1.1em; margin: 1em 0 0.4em; }
.mono, svg text { font-family: var(--vscode-editor-font-family, monospace); }
.muted { color: var(--muted); }
.error { color: var(--bad); font-weight: bold; }
.empty { color: var(--muted); padding: 1em 0; }
table { border-collapse: collapse; }
td, th { border: 1px solid var(--border); padding: 1px 6px; text-align: left; }
th { color: var(--muted); font-weight: normal; }
svg { overflow: visible; }
svg text { fill: var(--fg); font-size: 11px; }
svg .muted { fill: var(--muted); }
svg .bad { fill: var(--bad); }
svg .box { fill: var(--box); stroke: var(--border); stroke-width: 1; }
svg .box.path { stroke: var(--path); stroke-width: 2; }
svg .box.stop { stroke: var(--bad); stroke-width: 3; }
svg .box.skipped { fill: none; stroke-dasharray: 4 3; }
svg .arrow { stroke: var(--path); stroke-width: 1.5; fill: none; }
svg .arrow.bad { stroke: var(--bad); }
svg .ahp { fill: var(--path); }
svg .ahb { fill: var(--bad); }
button, select { color: var(--vscode-button-foreground, inherit); background: var(--vscode-button-background, ButtonFace); border: 1px solid var(--border); padding: 2px 8px; }
select { color: var(--vscode-dropdown-foreground, inherit); background: var(--vscode-dropdown-background, Field); }
`;

/** A complete page: CSP meta, nonce'd style, body, optional nonce'd script. */
export function page(ctx: PageContext, title: string, body: string, opts: { css?: string; script?: string } = {}): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp(ctx))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style nonce="${esc(ctx.nonce)}">${BASE_CSS}${opts.css ?? ''}</style>
</head>
<body>
${body}
${opts.script !== undefined ? `<script nonce="${esc(ctx.nonce)}">${opts.script}</script>` : ''}
</body>
</html>
`;
}

/** The page shown when no debug session is stopped. */
export function noSessionPage(ctx: PageContext, title: string, message?: string): string {
  return page(ctx, title, `<h1>${esc(title)}</h1>
<p class="empty">${message !== undefined ? esc(message) : 'No vmscope debug session is stopped.'}</p>
<p class="muted">Start one with <b>Run and Debug</b> (F5) on a <span class="mono">vmscope</span> launch configuration, then pause it or let it stop at a
breakpoint or a VM exit (e.g. the <span class="mono">vmexit</span> exception filter); this picture fills in at each stop.</p>`);
}

/** An SVG arrow-head marker definition (id "ah" and "ahBad"). */
export const ARROW_DEFS = `<defs>
<marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="ahp"/></marker>
<marker id="ahBad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="ahb"/></marker>
</defs>`;
