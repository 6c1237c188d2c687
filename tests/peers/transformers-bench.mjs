// Timing peer for bench/Distil.Bench (engine --peers): greedy generation with transformers.js over a local model
// folder, fed token ids. Reads {"folder", "threads", "groups": [{"prompts": [[ids]], "max_new_tokens"}]} on stdin;
// each group is one generate call (prompts of unequal length left-padded with a zero mask, as transformers.js
// batches). The model is loaded and warmed with a short call before the clock starts. Prints
// {"seconds", "generated": [[ids]]}: the faster of two rounds' wall time over all groups and the new tokens of
// every prompt, in order.
import path from 'node:path';
import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(input.folder)) + path.sep;
const model = await AutoModelForCausalLM.from_pretrained(path.basename(input.folder), {
  dtype: 'fp32',
  device: 'cpu',
  session_options: { intraOpNumThreads: input.threads, interOpNumThreads: 1 },
});

async function generate(group) {
  const width = Math.max(...group.prompts.map((p) => p.length));
  const ids = new BigInt64Array(group.prompts.length * width);
  const mask = new BigInt64Array(group.prompts.length * width);
  group.prompts.forEach((prompt, row) => {
    const pad = width - prompt.length;
    prompt.forEach((id, i) => {
      ids[(row * width) + pad + i] = BigInt(id);
      mask[(row * width) + pad + i] = 1n;
    });
  });
  const shape = [group.prompts.length, width];
  const output = await model.generate({
    input_ids: new Tensor('int64', ids, shape),
    attention_mask: new Tensor('int64', mask, shape),
    max_new_tokens: group.max_new_tokens,
    do_sample: false,
  });
  const rows = output.tolist();
  return rows.map((row) => row.slice(width).map(Number));
}

await generate({ prompts: [input.groups[0].prompts[0]], max_new_tokens: 2 });
// Best of two rounds, as the engine's side of the bench keeps its best.
let seconds = Infinity;
let generated = [];
for (let round = 0; round < 2; round++) {
  const started = process.hrtime.bigint();
  generated = [];
  for (const group of input.groups) {
    generated.push(...await generate(group));
  }
  seconds = Math.min(seconds, Number(process.hrtime.bigint() - started) / 1e9);
}
await model.dispose();
process.stdout.write(JSON.stringify({ seconds, generated }));
