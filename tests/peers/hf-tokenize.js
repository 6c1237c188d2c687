// Reference tokenization by Hugging Face `tokenizers` (the Rust library through napi) for the conformance tests.
// usage: node hf-tokenize.js <tokenizer.json> <strings.json> <out.json> [--no-vocab]
// strings.json is a JSON array of texts. out.json gets, for each text, the ids without and with the post-processor's
// special tokens and the decoded text (special tokens kept and skipped); and for every id of the vocabulary, the
// id's decoded text and the ids of that text encoded on its own.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [file, stringsFile, outFile, option] = process.argv.slice(2);
  const tokenizer = Tokenizer.fromFile(file);
  const texts = JSON.parse(fs.readFileSync(stringsFile, 'utf8'));

  const plain = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
  const withSpecial = await tokenizer.encodeBatch(texts, { addSpecialTokens: true });
  const plainIds = plain.map(e => e.getIds());
  const strings = [];
  const decoded = await tokenizer.decodeBatch(plainIds, false);
  const decodedSkip = await tokenizer.decodeBatch(withSpecial.map(e => e.getIds()), true);
  for (let i = 0; i < texts.length; i++) {
    strings.push({ ids: plainIds[i], withSpecial: withSpecial[i].getIds(), decoded: decoded[i], decodedSkip: decodedSkip[i] });
  }

  const size = option === '--no-vocab' ? 0 : tokenizer.getVocabSize(true);
  const vocabIds = [];
  for (let id = 0; id < size; id++) {
    if (tokenizer.idToToken(id) !== null) vocabIds.push(id);
  }
  const vocabTexts = await tokenizer.decodeBatch(vocabIds.map(id => [id]), false);
  const vocabEncoded = await tokenizer.encodeBatch(vocabTexts, { addSpecialTokens: false });
  const vocab = vocabIds.map((id, i) => ({ id, text: vocabTexts[i], ids: vocabEncoded[i].getIds() }));

  fs.writeFileSync(outFile, JSON.stringify({ strings, vocab }));
}

main().catch(e => { console.error(e && e.stack || String(e)); process.exit(1); });
