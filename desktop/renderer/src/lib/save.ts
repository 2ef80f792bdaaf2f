/** Saving a file: the native save dialog in Electron, a download in a browser. */
import { bridge } from './bridge.ts';

export async function saveText(defaultName: string, content: string, mime: string, extensions: string[]): Promise<string> {
  const b = bridge();
  if (b) {
    const result = await b.saveFile({ defaultName, content, filters: [{ name: extensions[0].toUpperCase(), extensions }] });
    return result.saved ? `Saved to ${result.path}` : 'Not saved (cancelled)';
  }
  const url = URL.createObjectURL(new Blob([content], { type: mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = defaultName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return `Downloaded ${defaultName}`;
}
