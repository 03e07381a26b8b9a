/**
 * Text written into HTML the node builds (an element's text or a double-quoted attribute's value):
 * `&`, `<`, `>`, `"` and `'` as numeric character references, so nothing a caller chose opens an
 * element or closes an attribute.
 */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
