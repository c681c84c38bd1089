/** A scripted model client: each request takes the next answer (a result or an error) and is kept. */
import type { ModelClient, ModelRequest, ModelResult, Usage } from '../../src/models/types.ts';

export type Answer = Partial<ModelResult> | Error;

export function usageOf(input: number, output: number): Usage {
  return { input: { text: 0, audio: input, image: 0, video: 0 }, output: { text: output, audio: 0, reasoning: 0 }, inputTotal: input, outputTotal: output };
}

export class ScriptedClient implements Pick<ModelClient, 'complete'> {
  readonly requests: ModelRequest[] = [];
  constructor(private readonly answers: Answer[]) {}

  async complete(req: ModelRequest): Promise<ModelResult> {
    this.requests.push(req);
    const a = this.answers.shift();
    if (!a) throw new Error(`ScriptedClient: no answer left for request ${this.requests.length}`);
    if (a instanceof Error) throw a;
    return { text: '', reasoning: '', usage: usageOf(100, 20), finishReason: 'stop', requestId: `req-${this.requests.length}`, model: req.model, ...a };
  }
}
