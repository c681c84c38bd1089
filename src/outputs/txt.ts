/** The plain transcript/caption file: the stitched text with one trailing newline (empty text -> empty file). */
export function renderTxt(text: string): string {
  const t = text.trim();
  return t ? `${t}\n` : '';
}
