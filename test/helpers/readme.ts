/** The README's code blocks, for the tests that run them as pasted (test/package, test/browser). */

/** The README's code blocks in order: ```ts and ```js (a ```js browser block runs in the browser test). */
export function readmeBlocks(text: string): { lang: 'ts' | 'js'; browser: boolean; code: string; line: number }[] {
  const blocks: { lang: 'ts' | 'js'; browser: boolean; code: string; line: number }[] = [];
  for (const m of text.matchAll(/^```(ts|js)( browser)?\n([\s\S]*?)^```$/gm)) {
    const line = text.slice(0, m.index).split('\n').length;
    blocks.push({ lang: m[1] as 'ts' | 'js', browser: m[2] !== undefined, code: m[3]!, line });
  }
  return blocks;
}
