/**
 * What a call says, as a listener hears it: the Arabic and English words of
 * numbers (golden tables written out by hand, never computed), the clip ids
 * a voice pack must hold, and whole calls. Properties run over the whole
 * range 0..9999, and an independent decoder written here turns the Arabic
 * words back into numbers, so a wrong word order or a lost digit fails.
 */
import { describe, expect, it } from 'vitest';
import {
  CLIPS,
  LETTERS,
  SOUNDS,
  VoiceWordsError,
  arabicNumber,
  arabicNumberText,
  clipsText,
  composeCall,
  englishNumber,
  englishNumberText,
  inquiryClips,
  parseTicket,
  ticketClips,
  wordsOf,
  type ClipRef,
  type InquiryReading,
  type Lang,
} from '../contract/voice.js';

const ALL = Array.from({ length: 10000 }, (_, n) => n);

// n, Arabic words, Arabic clip ids, English words, English clip ids
const GOLDEN: [number, string, string[], string, string[]][] = [
  [0, 'صفر', ['0'], 'zero', ['0']],
  [1, 'واحد', ['1'], 'one', ['1']],
  [2, 'اثنان', ['2'], 'two', ['2']],
  [3, 'ثلاثة', ['3'], 'three', ['3']],
  [8, 'ثمانية', ['8'], 'eight', ['8']],
  [10, 'عشرة', ['10'], 'ten', ['10']],
  [11, 'أحد عشر', ['11.1', 'teen'], 'eleven', ['11']],
  [12, 'اثنا عشر', ['12.1', 'teen'], 'twelve', ['12']],
  [13, 'ثلاثة عشر', ['3', 'teen'], 'thirteen', ['13']],
  [19, 'تسعة عشر', ['9', 'teen'], 'nineteen', ['19']],
  [20, 'عشرون', ['20'], 'twenty', ['20']],
  [21, 'واحد وعشرون', ['1', 'wa.20'], 'twenty one', ['20', '1']],
  [22, 'اثنان وعشرون', ['2', 'wa.20'], 'twenty two', ['20', '2']],
  [23, 'ثلاثة وعشرون', ['3', 'wa.20'], 'twenty three', ['20', '3']],
  [42, 'اثنان وأربعون', ['2', 'wa.40'], 'forty two', ['40', '2']],
  [99, 'تسعة وتسعون', ['9', 'wa.90'], 'ninety nine', ['90', '9']],
  [100, 'مئة', ['100'], 'one hundred', ['1', 'hundred']],
  [101, 'مئة وواحد', ['100', 'wa.1'], 'one hundred and one', ['1', 'hundred', 'and', '1']],
  [102, 'مئة واثنان', ['100', 'wa.2'], 'one hundred and two', ['1', 'hundred', 'and', '2']],
  [110, 'مئة وعشرة', ['100', 'wa.10'], 'one hundred and ten', ['1', 'hundred', 'and', '10']],
  [111, 'مئة وأحد عشر', ['100', 'wa.11.1', 'teen'], 'one hundred and eleven', ['1', 'hundred', 'and', '11']],
  [112, 'مئة واثنا عشر', ['100', 'wa.12.1', 'teen'], 'one hundred and twelve', ['1', 'hundred', 'and', '12']],
  [115, 'مئة وخمسة عشر', ['100', 'wa.5', 'teen'], 'one hundred and fifteen', ['1', 'hundred', 'and', '15']],
  [120, 'مئة وعشرون', ['100', 'wa.20'], 'one hundred and twenty', ['1', 'hundred', 'and', '20']],
  [200, 'مئتان', ['200'], 'two hundred', ['2', 'hundred']],
  [201, 'مئتان وواحد', ['200', 'wa.1'], 'two hundred and one', ['2', 'hundred', 'and', '1']],
  [250, 'مئتان وخمسون', ['200', 'wa.50'], 'two hundred and fifty', ['2', 'hundred', 'and', '50']],
  [300, 'ثلاثمئة', ['300'], 'three hundred', ['3', 'hundred']],
  [800, 'ثمانمئة', ['800'], 'eight hundred', ['8', 'hundred']],
  [999, 'تسعمئة وتسعة وتسعون', ['900', 'wa.9', 'wa.90'], 'nine hundred and ninety nine', ['9', 'hundred', 'and', '90', '9']],
  [1000, 'ألف', ['1000'], 'one thousand', ['1', 'thousand']],
  [1001, 'ألف وواحد', ['1000', 'wa.1'], 'one thousand and one', ['1', 'thousand', 'and', '1']],
  [1010, 'ألف وعشرة', ['1000', 'wa.10'], 'one thousand and ten', ['1', 'thousand', 'and', '10']],
  [1011, 'ألف وأحد عشر', ['1000', 'wa.11.1', 'teen'], 'one thousand and eleven', ['1', 'thousand', 'and', '11']],
  [1100, 'ألف ومئة', ['1000', 'wa.100'], 'one thousand one hundred', ['1', 'thousand', '1', 'hundred']],
  [1200, 'ألف ومئتان', ['1000', 'wa.200'], 'one thousand two hundred', ['1', 'thousand', '2', 'hundred']],
  [2000, 'ألفان', ['2000'], 'two thousand', ['2', 'thousand']],
  [2019, 'ألفان وتسعة عشر', ['2000', 'wa.9', 'teen'], 'two thousand and nineteen', ['2', 'thousand', 'and', '19']],
  [2026, 'ألفان وستة وعشرون', ['2000', 'wa.6', 'wa.20'], 'two thousand and twenty six', ['2', 'thousand', 'and', '20', '6']],
  [3000, 'ثلاثة آلاف', ['3', 'thousands'], 'three thousand', ['3', 'thousand']],
  [3003, 'ثلاثة آلاف وثلاثة', ['3', 'thousands', 'wa.3'], 'three thousand and three', ['3', 'thousand', 'and', '3']],
  [4321, 'أربعة آلاف وثلاثمئة وواحد وعشرون', ['4', 'thousands', 'wa.300', 'wa.1', 'wa.20'], 'four thousand three hundred and twenty one', ['4', 'thousand', '3', 'hundred', 'and', '20', '1']],
  [9000, 'تسعة آلاف', ['9', 'thousands'], 'nine thousand', ['9', 'thousand']],
  [9999, 'تسعة آلاف وتسعمئة وتسعة وتسعون', ['9', 'thousands', 'wa.900', 'wa.9', 'wa.90'], 'nine thousand nine hundred and ninety nine', ['9', 'thousand', '9', 'hundred', 'and', '90', '9']],
];

/**
 * The Arabic words of a sequence of numbers back to their values, written
 * independently of the code under test: a number starts at a word without
 * a و prefix; و-words, "عشر" (−teen) and "آلاف" (thousands) continue it.
 */
const AR_VALUE: Record<string, number> = {
  صفر: 0, واحد: 1, أحد: 1, اثنان: 2, اثنا: 2, ثلاثة: 3, أربعة: 4, خمسة: 5, ستة: 6, سبعة: 7, ثمانية: 8, تسعة: 9, عشرة: 10,
  عشرون: 20, ثلاثون: 30, أربعون: 40, خمسون: 50, ستون: 60, سبعون: 70, ثمانون: 80, تسعون: 90,
  مئة: 100, مئتان: 200, ثلاثمئة: 300, أربعمئة: 400, خمسمئة: 500, ستمئة: 600, سبعمئة: 700, ثمانمئة: 800, تسعمئة: 900,
  ألف: 1000, ألفان: 2000,
};
function decodeArabic(text: string): number[] {
  const out: number[] = [];
  let last = 0; // the value the previous word added, for "عشر" and "آلاف"
  for (const word of text.split(' ')) {
    if (word === 'عشر') {
      if (last < 1 || last > 9) throw new Error(`"عشر" after ${last}`);
      out[out.length - 1]! += 10;
      last = 0;
    } else if (word === 'آلاف') {
      if (last < 3 || last > 9) throw new Error(`"آلاف" after ${last}`);
      out[out.length - 1]! += last * 999;
      last = 0;
    } else if (word in AR_VALUE) {
      out.push(AR_VALUE[word]!);
      last = AR_VALUE[word]!;
    } else if (word.startsWith('و') && word.slice(1) in AR_VALUE) {
      if (out.length === 0) throw new Error(`"${word}" starts a number`);
      last = AR_VALUE[word.slice(1)]!;
      out[out.length - 1]! += last;
    } else throw new Error(`unknown word "${word}"`);
  }
  return out;
}

/** The words of English 0..9999 back to the value (one number). */
const EN_VALUE: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
function decodeEnglish(text: string): number {
  let total = 0;
  let cur = 0;
  for (const word of text.split(' ')) {
    if (word === 'thousand') (total += cur * 1000), (cur = 0);
    else if (word === 'hundred') (total += cur * 100), (cur = 0);
    else if (word === 'and') continue;
    else if (word in EN_VALUE) cur += EN_VALUE[word]!;
    else throw new Error(`unknown word "${word}"`);
  }
  return total + cur;
}

describe('numbers: golden tables', () => {
  it.each(GOLDEN)('%i in Arabic and English', (n, arText, arIds, enText, enIds) => {
    expect(arabicNumberText(n)).toBe(arText);
    expect(arabicNumber(n)).toEqual(arIds);
    expect(englishNumberText(n)).toBe(enText);
    expect(englishNumber(n)).toEqual(enIds);
  });

  it('the wa-form clips say the word with و attached, as one word', () => {
    expect(CLIPS.ar['wa.20']).toBe('وعشرون');
    expect(CLIPS.ar['wa.1']).toBe('وواحد');
    expect(CLIPS.ar['wa.11.1']).toBe('وأحد');
    expect(CLIPS.ar['wa.12.1']).toBe('واثنا');
    expect(CLIPS.ar['wa.100']).toBe('ومئة');
    expect(CLIPS.ar['wa.900']).toBe('وتسعمئة');
    expect(Object.values(CLIPS.ar)).not.toContain('و');
  });

  it('refuses what it cannot read', () => {
    for (const n of [-1, 10000, 1.5, Number.NaN]) {
      expect(() => arabicNumber(n)).toThrow(VoiceWordsError);
      expect(() => englishNumber(n)).toThrow(VoiceWordsError);
    }
  });
});

describe('numbers: properties over 0..9999', () => {
  it('every clip id exists in CLIPS for its language, the text is the words of the clips, and no output is empty', () => {
    for (const n of ALL) {
      for (const [lang, ids, text] of [
        ['ar', arabicNumber(n), arabicNumberText(n)],
        ['en', englishNumber(n), englishNumberText(n)],
      ] as [Lang, string[], string][]) {
        expect(ids.length).toBeGreaterThan(0);
        for (const id of ids) expect(CLIPS[lang][id], `${lang} ${n}: ${id}`).toBeTypeOf('string');
        expect(text).toBe(ids.map((id) => CLIPS[lang][id]).join(' '));
        expect(text.trim()).toBe(text);
        expect(text).not.toMatch(/ {2}/);
      }
    }
  });

  it('the Arabic words decode back to the number, and 1..9999 never say "صفر"', () => {
    for (const n of ALL) {
      expect(decodeArabic(arabicNumberText(n)), String(n)).toEqual([n]);
      if (n > 0) expect(arabicNumberText(n)).not.toContain('صفر');
    }
  });

  it('the English words decode back to the number, "and" comes exactly before a last part under a hundred, and 1..9999 never say "zero"', () => {
    for (const n of ALL) {
      const text = englishNumberText(n);
      expect(decodeEnglish(text), String(n)).toBe(n);
      expect(text.split(' ').filter((w) => w === 'and').length, text).toBe(n > 100 && n % 100 !== 0 ? 1 : 0);
      if (n > 0) expect(text.split(' ')).not.toContain('zero');
    }
  });

  it('two different numbers never sound the same', () => {
    expect(new Set(ALL.map(arabicNumberText)).size).toBe(10000);
    expect(new Set(ALL.map(englishNumberText)).size).toBe(10000);
  });

  it('Arabic clips are Arabic script only, English clips are Latin only', () => {
    for (const t of Object.values(CLIPS.ar)) expect(t).toMatch(/^[\u0600-\u06FF]+( [\u0600-\u06FF]+)*$/);
    for (const t of Object.values(CLIPS.en)) expect(t).toMatch(/^[A-Za-z]+( [a-z]+)*$/);
  });
});

describe('the clip inventory', () => {
  it('is finite and every clip in it is used by some call (no dead recordings)', () => {
    const used: Record<Lang, Set<string>> = { ar: new Set(), en: new Set() };
    const note = (clips: ClipRef[]) => {
      for (const c of clips) if (c.lang !== 'sound') used[c.lang].add(c.id);
    };
    for (const n of ALL) {
      arabicNumber(n).forEach((id) => used.ar.add(id));
      englishNumber(n).forEach((id) => used.en.add(id));
    }
    for (const l of LETTERS) for (const chime of [true, false]) note(composeCall({ t: `${l}1`, w: 1, lang: 'both', chime }).clips);
    for (const chime of [true, false]) note(composeCall({ t: '123', w: 1, lang: 'both', inquiry: true, chime }).clips);
    expect([...used.ar].sort()).toEqual(Object.keys(CLIPS.ar).sort());
    expect([...used.en].sort()).toEqual(Object.keys(CLIPS.en).sort());
    expect(Object.keys(CLIPS.ar)).toHaveLength(94);
    expect(Object.keys(CLIPS.en)).toHaveLength(61);
    expect(Object.keys(SOUNDS)).toEqual(['chime']);
  });

  it('letters are called by their Latin names; the 26 Arabic names are 26 different words', () => {
    expect(CLIPS.ar['letter.A']).toBe('إيه');
    expect(CLIPS.ar['letter.B']).toBe('بي');
    expect(CLIPS.ar['letter.C']).toBe('سي');
    expect(CLIPS.ar['letter.P']).toBe('پي');
    expect(CLIPS.ar['letter.Z']).toBe('زد');
    expect(CLIPS.en['letter.A']).toBe('A');
    expect(CLIPS.en['letter.Z']).toBe('Z');
    expect(new Set(LETTERS.split('').map((l) => CLIPS.ar[`letter.${l}`])).size).toBe(26);
  });
});

describe('tickets', () => {
  it('are read as letters and the value, never the padding', () => {
    expect(parseTicket('A042')).toEqual({ prefix: 'A', digits: '042', n: 42 });
    expect(wordsOf('ar', ticketClips('ar', 'A042'))).toBe('إيه اثنان وأربعون');
    expect(wordsOf('en', ticketClips('en', 'A042'))).toBe('A forty two');
    expect(wordsOf('ar', ticketClips('ar', 'B007'))).toBe('بي سبعة');
    expect(wordsOf('ar', ticketClips('ar', 'A000'))).toBe('إيه صفر');
    expect(wordsOf('en', ticketClips('en', 'CD1100'))).toBe('C D one thousand one hundred');
    expect(wordsOf('ar', ticketClips('ar', '042'))).toBe('اثنان وأربعون');
  });

  it('above 9999 (a service may number up to 99999) are read digit by digit', () => {
    expect(wordsOf('ar', ticketClips('ar', 'A12345'))).toBe('إيه واحد اثنان ثلاثة أربعة خمسة');
    expect(wordsOf('en', ticketClips('en', 'A10000'))).toBe('A one zero zero zero zero');
  });

  it('with characters that cannot be read are refused with a clear error', () => {
    expect(() => parseTicket('a042')).toThrow(/"a" at position 1 cannot be read/);
    expect(() => parseTicket('A-42')).toThrow(/"-" at position 2/);
    expect(() => parseTicket('A٠٤٢')).toThrow(/"٠" at position 2/);
    expect(() => parseTicket('')).toThrow(VoiceWordsError);
    expect(() => parseTicket('ABCD1')).toThrow(/0–3 capital Latin letters then 1–5 digits/);
    expect(() => parseTicket('A')).toThrow(VoiceWordsError);
    expect(() => parseTicket('A123456')).toThrow(VoiceWordsError);
  });
});

describe('inquiry numbers', () => {
  const read = (lang: Lang, s: string, r: InquiryReading) => wordsOf(lang, inquiryClips(lang, s, r));

  it('digit by digit, in pairs or in triples, the dash unspoken and every zero kept', () => {
    expect(read('ar', '20261124-0157', 'digits')).toBe('اثنان صفر اثنان ستة واحد واحد اثنان أربعة صفر واحد خمسة سبعة');
    expect(read('ar', '20261124-0157', 'pairs')).toBe('عشرون ستة وعشرون أحد عشر أربعة وعشرون صفر واحد سبعة وخمسون');
    expect(read('ar', '20261124-0157', 'triples')).toBe('مئتان واثنان ستمئة وأحد عشر أربعة وعشرون صفر واحد سبعة وخمسون');
    expect(read('en', '20261124-0157', 'pairs')).toBe('twenty twenty six eleven twenty four zero one fifty seven');
    expect(read('en', '7731902', 'digits')).toBe('seven seven three one nine zero two');
  });

  it('never end a longer run with a lone digit (it would merge with the group before it)', () => {
    // pairs of an odd run end in a triple: 77 31 902
    expect(read('en', '7731902', 'pairs')).toBe('seventy seven thirty one nine hundred and two');
    // triples with one digit over end in two pairs: 773 19 02
    expect(read('en', '7731902', 'triples')).toBe('seven hundred and seventy three nineteen zero two');
    expect(read('ar', '7731902', 'triples')).toBe('سبعمئة وثلاثة وسبعون تسعة عشر صفر اثنان');
    expect(read('en', '5', 'triples')).toBe('five');
    expect(read('en', '000', 'triples')).toBe('zero zero zero');
  });

  it('letters in an inquiry number are read by name', () => {
    expect(read('ar', 'ab-12', 'digits')).toBe('إيه بي واحد اثنان');
    expect(read('en', 'Q7X', 'pairs')).toBe('Q seven X');
  });

  it('lose no digit: the Arabic reading decodes back to the digits, for any reading and length', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    for (let k = 0; k < 3000; k++) {
      const len = 1 + Math.floor(rnd() * 20);
      const digits = Array.from({ length: len }, () => String(Math.floor(rnd() * (rnd() < 0.3 ? 1 : 10)))).join('');
      for (const r of ['digits', 'pairs', 'triples'] as const) {
        const back = decodeArabic(read('ar', digits, r)).join('');
        expect(back, `${digits} ${r}`).toBe(digits);
      }
    }
  });

  it('refuses characters it cannot read', () => {
    expect(() => inquiryClips('ar', '2026/11', 'digits')).toThrow(/"\/" at position 5/);
    expect(() => inquiryClips('ar', '', 'digits')).toThrow(VoiceWordsError);
    expect(() => inquiryClips('ar', '--', 'digits')).toThrow(/no letter or digit/);
  });
});

describe('composed calls', () => {
  const ids = (clips: ClipRef[]) => clips.map((c) => `${c.lang}:${c.id}`);

  it('Arabic, full: chime, "المواطن رقم", the ticket, "يرجى التوجه إلى الشباك رقم", the window', () => {
    const call = composeCall({ t: 'A042', w: 3, lang: 'ar' });
    expect(ids(call.clips)).toEqual(['sound:chime', 'ar:citizen.number', 'ar:letter.A', 'ar:2', 'ar:wa.40', 'ar:go.to.window', 'ar:3']);
    expect(call.text).toBe('المواطن رقم إيه اثنان وأربعون يرجى التوجه إلى الشباك رقم ثلاثة');
  });

  it('English, full and shortened', () => {
    expect(composeCall({ t: 'A042', w: 3, lang: 'en' }).text).toBe('number A forty two please go to window three');
    const short = composeCall({ t: 'B115', w: 12, lang: 'en', chime: false });
    expect(ids(short.clips)).toEqual(['en:number', 'en:letter.B', 'en:1', 'en:hundred', 'en:and', 'en:15', 'en:window', 'en:12']);
    expect(short.text).toBe('number B one hundred and fifteen window twelve');
  });

  it('Arabic shortened: no chime, "رقم … شباك …", fewer clips than the full form', () => {
    const short = composeCall({ t: 'C250', w: 11, lang: 'ar', chime: false });
    expect(short.text).toBe('رقم سي مئتان وخمسون شباك أحد عشر');
    expect(short.clips.some((c) => c.lang === 'sound')).toBe(false);
    expect(short.clips.length).toBeLessThan(composeCall({ t: 'C250', w: 11, lang: 'ar' }).clips.length);
  });

  it('both: one chime, then all of the Arabic, then all of the English', () => {
    const call = composeCall({ t: 'A042', w: 3, lang: 'both' });
    expect(call.clips.filter((c) => c.lang === 'sound')).toEqual([{ lang: 'sound', id: 'chime' }]);
    expect(call.clips[0]).toEqual({ lang: 'sound', id: 'chime' });
    const langs = call.clips.slice(1).map((c) => c.lang);
    expect(langs.indexOf('en')).toBe(langs.lastIndexOf('ar') + 1);
    expect(call.text).toBe('المواطن رقم إيه اثنان وأربعون يرجى التوجه إلى الشباك رقم ثلاثة number A forty two please go to window three');
    const short = composeCall({ t: 'A042', w: 3, lang: 'both', chime: false });
    expect(short.text).toBe('رقم إيه اثنان وأربعون شباك ثلاثة number A forty two window three');
  });

  it('delivery calls by inquiry number, digit by digit unless told otherwise', () => {
    expect(composeCall({ t: '7731902', w: 4, lang: 'ar', inquiry: true }).text).toBe(
      'رقم الاستعلام سبعة سبعة ثلاثة واحد تسعة صفر اثنان يرجى التوجه إلى الشباك رقم أربعة',
    );
    expect(composeCall({ t: '20261124-0157', w: 4, lang: 'en', inquiry: true, inquiryReading: 'triples', chime: false }).text).toBe(
      'inquiry number two hundred and two six hundred and eleven twenty four zero one fifty seven window four',
    );
    expect(composeCall({ t: '7731902', w: 4, lang: 'both', inquiry: true, inquiryReading: 'pairs' }).text).toBe(
      'رقم الاستعلام سبعة وسبعون واحد وثلاثون تسعمئة واثنان يرجى التوجه إلى الشباك رقم أربعة inquiry number seventy seven thirty one nine hundred and two please go to window four',
    );
  });

  it('every composed clip exists for its language, and the text is their words', () => {
    const tickets = ['A001', 'Z999', 'AB120', 'XYZ9999', '7', 'Q00000', 'P12345'];
    for (const t of tickets)
      for (const lang of ['ar', 'en', 'both'] as const)
        for (const chime of [true, false])
          for (const w of [1, 11, 100, 999]) {
            const call = composeCall({ t, w, lang, chime });
            for (const c of call.clips) expect(c.lang === 'sound' ? SOUNDS[c.id] : CLIPS[c.lang][c.id], `${t} ${c.lang}:${c.id}`).toBeTypeOf('string');
            expect(call.text).toBe(clipsText(call.clips));
            expect(call.text.length).toBeGreaterThan(0);
          }
  });

  it('refuses a window it cannot call and a ticket it cannot read', () => {
    expect(() => composeCall({ t: 'A1', w: 0, lang: 'ar' })).toThrow(/window 0/);
    expect(() => composeCall({ t: 'A 1', w: 1, lang: 'ar' })).toThrow(/" " at position 2/);
    expect(() => composeCall({ t: '2026-11', w: 1, lang: 'ar' })).toThrow(VoiceWordsError);
  });
});
