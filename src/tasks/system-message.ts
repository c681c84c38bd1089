/**
 * Where a task's instructions go. In a system message they are the operator's, apart from what the media
 * says (a speaker reading out JSON or "ignore your instructions" is content, not a second prompt); in the
 * user turn they sit next to the media. Models differ, so each model has ONE pure rule here, from the seeds:
 *  - qwen3-omni-flash: supports a system message (seed 001 FAQ: "Qwen3-Omni-Flash 模型已支持设定 System Message").
 *  - qwen-omni-turbo: none when the output includes audio (seed 001: "在输出模态包括音频时不支持设定 System Message").
 *  - qwen3.5-omni-plus: none when the output includes audio (seed 002: "不支持在包含音频输出时设置 System Message").
 *  - the captioner: no instructions at all (seed 003: its behaviour cannot be changed by a System Message).
 * An unknown model gets the cautious rule: a system message only without audio output.
 */
export interface SystemMessageContext {
  /** the request asks for spoken output too */
  audioOut: boolean;
}

type Rule = (ctx: SystemMessageContext) => boolean;

const textOnly: Rule = (ctx) => !ctx.audioOut;

export const SYSTEM_MESSAGE_RULES: Readonly<Record<string, Rule>> = Object.freeze({
  'qwen3-omni-flash': () => true,
  'qwen-omni-turbo': textOnly,
  'qwen3.5-omni-plus': textOnly,
  'qwen3-omni-30b-a3b-captioner': () => false,
});

/** Model ids carry dated or provider suffixes (qwen3-omni-flash-2025-12-01, qwen3.5-omni-plus-all): the longest known prefix decides. */
export function allowsSystemMessage(model: string, ctx: SystemMessageContext): boolean {
  const id = model.toLowerCase();
  const known = Object.keys(SYSTEM_MESSAGE_RULES)
    .filter((k) => id === k || id.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return (known ? SYSTEM_MESSAGE_RULES[known] : textOnly)(ctx);
}

/** The request's `system` and `prompt` for a set of instructions and the user turn's own text. */
export function placeInstructions(model: string, ctx: SystemMessageContext, instructions: string, userText: string): { system?: string; prompt: string } {
  if (allowsSystemMessage(model, ctx)) return { system: instructions, prompt: userText };
  return { prompt: `${instructions}\n\n${userText}` };
}
