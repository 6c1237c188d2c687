// Greedy generation with transformers.js (@huggingface/transformers) over a local model folder, fed token ids
// directly (no tokenizer needed). Reads {"folder", "prompts": [[ids]], "max_new_tokens"} as JSON on stdin and
// prints {"generated": [[ids]]}: the new tokens of each prompt, eos included when one was produced.
import fs from 'node:fs';
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
// transformers.js takes config.json's `multi_query` to mean GPT-BigCode's fused `past_key_values.N.key_value`
// cache; a multi-query Falcon graph has separate key/value inputs with one head, which transformers.js reads from
// the graph's input shapes. So it is handed the config with that one flag cleared (nothing else depends on it).
const config = JSON.parse(fs.readFileSync(path.join(input.folder, 'config.json'), 'utf8'));
if (config.model_type === 'falcon') {
  config.multi_query = false;
}

const model = await AutoModelForCausalLM.from_pretrained(path.basename(input.folder), { config, dtype: 'fp32', device: 'cpu' });

const generated = [];
for (const prompt of input.prompts) {
  const ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
  const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
  const output = await model.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: input.max_new_tokens, do_sample: false });
  generated.push(Array.from(output.data, Number).slice(prompt.length));
}

await model.dispose();
process.stdout.write(JSON.stringify({ generated }));
