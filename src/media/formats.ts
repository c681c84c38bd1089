/**
 * THE table of what a run reads as media: each ffmpeg demuxer we open a stranger's file with, the file name
 * extensions it goes by, what it is, and why it is safe. PURE data. Both decisions come from it: the
 * demuxer allow-list (allow-list.ts FORMAT_ALLOW: what ffmpeg may open) and the extension pre-filter of a
 * listing (producers/filter.ts: which objects are read by default). They cannot contradict each other again
 * (issue 22: `.dv` and `.mxf` were taken by name and then refused by demuxer).
 *
 * Safe = the demuxer reads only its own input: no playlist, no list of files, no reference to another file or
 * URL is ever followed (ffmpeg also runs with `-protocol_whitelist file`, so a nested open could reach only a
 * local file; the demuxers here make none). Each row says what was checked (`refs`); the additions of issue 22
 * each have a test that a file of that kind is read (test/media/formats.test.ts).
 */

export interface MediaFormat {
  /** ffmpeg demuxer name (`ffmpeg -demuxers`); -format_whitelist matches it against a demuxer's comma list */
  demuxer: string;
  /** lower-case extensions, without the dot, that name such files (the pre-filter); none for raw-only demuxers */
  extensions: readonly string[];
  /** what it is, for people */
  what: string;
  /** why it reads only its own input */
  refs: string;
}

const SELF = 'a single stream in one file: nothing to reference';

export const MEDIA_FORMATS: readonly MediaFormat[] = Object.freeze([
  {
    demuxer: 'mov',
    extensions: ['mp4', 'm4a', 'm4b', 'm4v', 'mov', '3gp', '3g2', 'mj2', 'qt'],
    what: 'MP4 / QuickTime (M4B audiobooks included)',
    refs: 'external data references (dref) are off unless enable_drefs is set, which we never do',
  },
  { demuxer: 'matroska', extensions: ['mkv', 'mka', 'webm', 'mk3d'], what: 'Matroska / WebM', refs: 'linked segments are not followed by ffmpeg' },
  { demuxer: 'mp3', extensions: ['mp3', 'mp2', 'mp1', 'mpga'], what: 'MPEG audio layer 1/2/3', refs: SELF },
  { demuxer: 'wav', extensions: ['wav', 'wave', 'bwf', 'rf64', 'bw64'], what: 'WAV / BWF / RF64', refs: SELF },
  { demuxer: 'w64', extensions: ['w64'], what: 'Sony Wave64', refs: SELF },
  { demuxer: 'flac', extensions: ['flac'], what: 'FLAC', refs: SELF },
  { demuxer: 'ogg', extensions: ['ogg', 'oga', 'opus', 'spx', 'ogv', 'ogx'], what: 'Ogg (Vorbis, Opus, Speex, FLAC, Theora)', refs: SELF },
  { demuxer: 'aac', extensions: ['aac', 'adts'], what: 'raw AAC (ADTS)', refs: SELF },
  { demuxer: 'loas', extensions: ['latm', 'loas'], what: 'AAC in LATM/LOAS', refs: SELF },
  { demuxer: 'mpegts', extensions: ['ts', 'mts', 'm2ts', 'm2t'], what: 'MPEG transport stream', refs: SELF },
  { demuxer: 'mpeg', extensions: ['mpg', 'mpeg', 'vob', 'mod', 'm2p', 'ps'], what: 'MPEG program stream (DVD VOB, camcorder MOD)', refs: SELF },
  { demuxer: 'mpegvideo', extensions: ['m1v', 'm2v', 'mpv'], what: 'raw MPEG-1/2 video (no sound: media_no_audio for audio tasks)', refs: SELF },
  {
    demuxer: 'asf',
    extensions: ['asf', 'wma', 'wmv'],
    what: 'ASF / Windows Media',
    refs: 'the demuxer reads the file only; ASX playlists (.asx) are XML text, not this demuxer',
  },
  { demuxer: 'aiff', extensions: ['aif', 'aiff', 'aifc'], what: 'AIFF / AIFF-C', refs: SELF },
  { demuxer: 'amr', extensions: ['amr', '3ga'], what: 'AMR', refs: SELF },
  { demuxer: 'amrnb', extensions: [], what: 'raw AMR-NB', refs: SELF },
  { demuxer: 'amrwb', extensions: ['awb'], what: 'raw AMR-WB', refs: SELF },
  { demuxer: 'flv', extensions: ['flv', 'f4v'], what: 'Flash video', refs: SELF },
  { demuxer: 'caf', extensions: ['caf'], what: 'Apple Core Audio Format', refs: SELF },
  { demuxer: 'avi', extensions: ['avi', 'divx'], what: 'AVI', refs: SELF },
  { demuxer: 'ac3', extensions: ['ac3'], what: 'raw AC-3', refs: SELF },
  { demuxer: 'eac3', extensions: ['eac3', 'ec3'], what: 'raw E-AC-3', refs: SELF },
  { demuxer: 'au', extensions: ['au', 'snd'], what: 'Sun AU', refs: SELF },
  { demuxer: 'wv', extensions: ['wv'], what: 'WavPack', refs: 'a correction file (.wvc) is never opened by ffmpeg' },
  { demuxer: 'ape', extensions: ['ape'], what: "Monkey's Audio", refs: SELF },
  { demuxer: 'tta', extensions: ['tta'], what: 'True Audio', refs: SELF },
  { demuxer: 'dts', extensions: ['dts'], what: 'raw DTS', refs: SELF },
  { demuxer: 'mpc', extensions: ['mpc', 'mp+', 'mpp'], what: 'Musepack SV7', refs: SELF },
  { demuxer: 'mpc8', extensions: [], what: 'Musepack SV8 (same extensions as SV7)', refs: SELF },
  // Issue 22: archive and legacy containers ffmpeg decodes, each read from its own bytes only.
  {
    demuxer: 'mxf',
    extensions: ['mxf'],
    what: 'MXF (broadcast archives: OP1a, OP-Atom, D-10)',
    refs: 'ffmpeg reads the essence inside the file; external essence of an OP-Atom set is not opened',
  },
  { demuxer: 'dv', extensions: ['dv', 'dif'], what: 'DV (tape archives)', refs: SELF },
  { demuxer: 'gxf', extensions: ['gxf'], what: 'GXF (broadcast servers)', refs: SELF },
  { demuxer: 'tak', extensions: ['tak'], what: 'TAK lossless audio', refs: SELF },
  { demuxer: 'shn', extensions: ['shn'], what: 'Shorten lossless audio', refs: SELF },
  {
    demuxer: 'rm',
    extensions: ['rm', 'ra', 'rmvb'],
    what: 'RealMedia / RealAudio',
    refs: 'the demuxer reads the file only; .ram metafiles (URL lists) are text, not this demuxer, and are refused',
  },
  { demuxer: 'dsf', extensions: ['dsf'], what: 'DSD Stream File', refs: SELF },
  { demuxer: 'iff', extensions: ['iff', '8svx', '16sv', 'dff', 'maud'], what: 'IFF (Amiga 8SVX, DSDIFF)', refs: SELF },
  { demuxer: 'voc', extensions: ['voc'], what: 'Creative Voice', refs: SELF },
  {
    demuxer: 'libopenmpt',
    extensions: ['mod', 'xm', 'it', 's3m', 'mptm', 'stm', 'med', 'okt', '669', 'far', 'ult', 'mtm'],
    what: 'tracker modules (rendered by libopenmpt)',
    refs: 'ffmpeg hands libopenmpt the bytes in memory: it has no file access to load external samples',
  },
  { demuxer: 'afc', extensions: ['afc'], what: 'Nintendo AFC', refs: SELF },
  { demuxer: 'xwma', extensions: ['xwma'], what: 'Microsoft xWMA', refs: SELF },
  { demuxer: 'oma', extensions: ['oma', 'omg', 'aa3'], what: 'Sony OpenMG (ATRAC)', refs: SELF },
  { demuxer: 'vqf', extensions: ['vqf', 'vql'], what: 'TwinVQ', refs: SELF },
  { demuxer: 'ircam', extensions: ['sf', 'ircam'], what: 'Berkeley/IRCAM/CARL sound', refs: SELF },
  { demuxer: 'nistsphere', extensions: ['sph', 'nist'], what: 'NIST SPHERE (speech corpora)', refs: SELF },
  { demuxer: 'sox', extensions: ['sox'], what: 'SoX native', refs: SELF },
  { demuxer: 'wsd', extensions: ['wsd'], what: 'Wideband Single-bit Data (DSD)', refs: SELF },
  { demuxer: 'dtshd', extensions: ['dtshd'], what: 'DTS-HD', refs: SELF },
  { demuxer: 'truehd', extensions: ['thd'], what: 'raw Dolby TrueHD', refs: SELF },
  { demuxer: 'mlp', extensions: ['mlp'], what: 'raw MLP', refs: SELF },
  { demuxer: 'nut', extensions: ['nut'], what: 'NUT', refs: SELF },
  { demuxer: 'ivf', extensions: ['ivf'], what: 'IVF (VP8/VP9/AV1 video, no sound)', refs: SELF },
]);

/**
 * Demuxers ffmpeg has that are refused, and what they are: the reason a refused file's message gives
 * (issue 22: TAK was refused as "not audio or video in itself", which it is).
 */
export const REFUSED_FORMATS: Readonly<Record<string, string>> = Object.freeze({
  hls: 'an HLS playlist: a list of other files and URLs to fetch',
  dash: 'a DASH manifest: a list of other files and URLs to fetch',
  concat: 'an ffconcat list of other files',
  image2: 'a still picture or a numbered image sequence',
  tty: 'plain text',
  lavfi: 'a filter graph description, not media',
  sbg: 'a SBaGen script: text that generates sound',
  ffmetadata: 'an ffmpeg metadata text file',
  srt: 'subtitles (SubRip)',
  webvtt: 'subtitles (WebVTT)',
  ass: 'subtitles (ASS)',
  mpjpeg: 'a multipart JPEG stream',
  aa: 'an Audible AA audiobook (encrypted: needs the account key)',
  data: 'raw bytes of no known format',
});

/** A refused demuxer in words: its own line, else a still picture (`*_pipe`), else its name. */
export function describeRefused(demuxer: string): string {
  const known = REFUSED_FORMATS[demuxer];
  if (known) return known;
  if (/_pipe$/.test(demuxer) || demuxer === 'gif' || demuxer === 'image2') return 'a still picture';
  return `a "${demuxer}" stream, which is not on the list of containers read as media`;
}

/** Every allowed demuxer name (the allow-list). */
export const ALLOWED_DEMUXERS: readonly string[] = Object.freeze(MEDIA_FORMATS.map((f) => f.demuxer));

/** Every extension the pre-filter takes by default: exactly those of the allowed demuxers. */
export const MEDIA_EXTENSIONS: ReadonlySet<string> = new Set(MEDIA_FORMATS.flatMap((f) => f.extensions));

/**
 * Extensions of files that are surely not audio or video (documents, pictures, archives, subtitles, playlists):
 * reported `not_media` by name without being downloaded. Anything neither here nor in MEDIA_EXTENSIONS (no
 * extension at all, `.bak`, `.dat`, a camera's own) is read and decided by its content.
 */
export const NOT_MEDIA_EXTENSIONS: ReadonlySet<string> = new Set([
  ...['txt', 'md', 'rst', 'json', 'jsonl', 'ndjson', 'csv', 'tsv', 'xml', 'html', 'htm', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'log'],
  ...['pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'odp', 'rtf', 'epub'],
  ...['jpg', 'jpeg', 'png', 'gif', 'bmp', 'tif', 'tiff', 'webp', 'heic', 'heif', 'svg', 'ico', 'psd', 'raw', 'cr2', 'nef', 'dng'],
  ...['zip', 'gz', 'tgz', 'bz2', 'xz', 'zst', 'tar', '7z', 'rar'],
  ...['srt', 'vtt', 'ass', 'ssa', 'sub', 'lrc', 'ttml', 'dfxp', 'cue', 'm3u', 'm3u8', 'pls', 'asx', 'ram', 'xspf', 'mpd', 'ffconcat'],
  ...['nfo', 'sfv', 'md5', 'sha1', 'sha256', 'sig', 'asc', 'db', 'sqlite', 'js', 'py', 'sh', 'exe', 'dll', 'so', 'bin', 'iso', 'dmg'],
]);
