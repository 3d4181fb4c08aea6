/** Random Unicode text and a plain-JS word count over it: the reference for the word-count tests. */
import fc from 'fast-check';
import type { RandomSource } from '../../src/index.ts';

/**
 * Word characters from many scripts, including astral-plane letters (surrogate pairs), a
 * titlecase letter, non-ASCII digits and number forms, and 'İ' whose lower case grows a
 * combining dot (not itself a letter).
 */
const WORD_CHARS = [
  'a',
  'b',
  'Z',
  'é',
  'É',
  'ß',
  'Σ',
  'σ',
  'ς',
  'ж',
  'Ж',
  '日',
  '本',
  'ا',
  'ب',
  '𝒜',
  '𠀀',
  'İ',
  'ǅ',
  '1',
  '٣',
  '½',
];

/** Separators: spaces, punctuation, symbols, emoji, a combining mark, and line breaks of both kinds. */
const SEPARATORS = [
  ' ',
  ' ',
  '\t',
  ',',
  '.',
  '-',
  '—',
  '🙂',
  '\u0301',
  '_',
  '\u00a0',
  "'",
  '\n',
  '\r\n',
  '\n\n',
];

/** A word of 1–4 characters from a small alphabet, so words repeat and counts exceed 1. */
const wordArb = fc
  .array(fc.constantFrom(...WORD_CHARS.slice(0, 12), ...WORD_CHARS), { minLength: 1, maxLength: 3 })
  .map((chars) => chars.join(''));

/** Text made of words and separators in any order (several separators in a row, none at all). */
export const textArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof({ weight: 3, arbitrary: wordArb }, { weight: 2, arbitrary: fc.constantFrom(...SEPARATORS) }),
    {
      maxLength: 120,
    },
  )
  .map((pieces) => pieces.join(''));

/** The same kind of text from a seeded random source, for tests that cannot use fast-check (the CLI). */
export function randomText(random: RandomSource, pieces: number): string {
  const parts: string[] = [];
  for (let i = 0; i < pieces; i++) {
    if (random.next() < 0.6) {
      const length = 1 + random.nextInt(3);
      let word = '';
      for (let c = 0; c < length; c++) word += WORD_CHARS[random.nextInt(WORD_CHARS.length)];
      parts.push(word);
    } else {
      parts.push(SEPARATORS[random.nextInt(SEPARATORS.length)]);
    }
  }
  return parts.join('');
}

/**
 * Words as the examples define them: maximal runs of Unicode letters and digits, lower-cased.
 * Written code point by code point, independently of the regular expression the job uses.
 */
export function referenceWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  for (const ch of text) {
    if (/^[\p{L}\p{N}]$/u.test(ch)) {
      current += ch;
    } else if (current !== '') {
      words.push(current.toLowerCase());
      current = '';
    }
  }
  if (current !== '') words.push(current.toLowerCase());
  return words;
}

/** word → count over the whole text. */
export function referenceCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of referenceWords(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** Lines as a line-oriented file source must produce them: `\n` or `\r\n` ends, no empty last line. */
export function referenceLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (text.endsWith('\n')) lines.pop();
  return lines;
}
