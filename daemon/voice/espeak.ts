/**
 * What espeak-ng is given to say each Arabic clip of the demo pack. The
 * clip texts of words.ts are plain Arabic, as a person records them; espeak
 * does not add the short vowels, so it says خمسة as "xmst" and مئة as
 * "m?t". Here every Arabic clip has its text with the vowels marked, in
 * pausal form (a clip is said on its own), checked with `espeak-ng -v ar -x`.
 * English clips need no help.
 *
 * Not spoken by espeak as written: ڤ (V), so V is said فِي here; a recorded
 * pack says ڤي.
 */

const BASE: Record<string, string> = {
  '0': 'صِفْر',
  '1': 'واحِد',
  '2': 'اِثْنان',
  '3': 'ثَلاثَهْ',
  '4': 'أَرْبَعَهْ',
  '5': 'خَمْسَهْ',
  '6': 'سِتَّهْ',
  '7': 'سَبْعَهْ',
  '8': 'ثَمانِيَهْ',
  '9': 'تِسْعَهْ',
  '10': 'عَشَرَهْ',
  '20': 'عِشْرُون',
  '30': 'ثَلاثُون',
  '40': 'أَرْبَعُون',
  '50': 'خَمْسُون',
  '60': 'سِتُّون',
  '70': 'سَبْعُون',
  '80': 'ثَمانُون',
  '90': 'تِسْعُون',
  '100': 'مِئَهْ',
  '200': 'مِئَتان',
  '300': 'ثَلاثُمِئَهْ',
  '400': 'أَرْبَعُمِئَهْ',
  '500': 'خَمْسُمِئَهْ',
  '600': 'سِتُّمِئَهْ',
  '700': 'سَبْعُمِئَهْ',
  '800': 'ثَمانُمِئَهْ',
  '900': 'تِسْعُمِئَهْ',
  '1000': 'أَلْف',
  '2000': 'أَلْفان',
  '11.1': 'أَحَدَ',
  '12.1': 'اِثْنا',
  teen: 'عَشَرْ',
  thousands: 'آلافْ',
};

/** With و: the hamza-less forms join it (وَثْنان, not وَاِثْنان). */
const WA: Record<string, string> = { '1': 'وَواحِدْ', '2': 'وَثْنان', '12.1': 'وَثْنا' };

const LETTERS: Record<string, string> = {
  A: 'إيهْ',
  B: 'بِي',
  C: 'سِي',
  D: 'دِي',
  E: 'إِي',
  F: 'إِفْ',
  G: 'جِي',
  H: 'إِتْشْ',
  I: 'آيْ',
  J: 'جِيهْ',
  K: 'كِيهْ',
  L: 'إِلْ',
  M: 'إِمْ',
  N: 'إِنْ',
  O: 'أُو',
  P: 'پِي',
  Q: 'كْيُو',
  R: 'آرْ',
  S: 'إِسْ',
  T: 'تِي',
  U: 'يُو',
  V: 'فِي',
  W: 'دَبِلْيُو',
  X: 'إِكْسْ',
  Y: 'وَايْ',
  Z: 'زِدْ',
};

const PHRASES: Record<string, string> = {
  'citizen.number': 'المُواطِنْ رَقْمْ',
  'go.to.window': 'يُرْجَى التَّوَجُّهْ إِلَى الشُّبّاكْ رَقْمْ',
  number: 'رَقْمْ',
  window: 'شُبّاكْ',
  'inquiry.number': 'رَقْمْ الاِسْتِعْلامْ',
};

/** The vowelled text espeak-ng says for an Arabic clip; undefined for an id this table does not know (the plain text is used). */
export function espeakArabic(id: string): string | undefined {
  if (Object.hasOwn(PHRASES, id)) return PHRASES[id];
  if (id.startsWith('letter.')) return LETTERS[id.slice(7)];
  if (id.startsWith('wa.')) {
    const base = id.slice(3);
    return WA[base] ?? (BASE[base] !== undefined ? `وَ${BASE[base]}` : undefined);
  }
  return BASE[id];
}
