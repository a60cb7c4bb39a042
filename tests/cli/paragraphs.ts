/** Moby-Dick's opening paragraphs: the documents the CLI tests record a tiny GPT-2 over. */
export const MOBY_PARAGRAPHS = [
  'Call me Ishmael.',
  'Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
  'It is a way I have of driving off the spleen and regulating the circulation.',
  'Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul, then I account it high time to get to sea as soon as I can.',
];
