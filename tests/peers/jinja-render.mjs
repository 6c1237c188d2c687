// Renders chat templates with @huggingface/jinja (the template engine of transformers.js) for the conformance tests.
// stdin: JSON array of {"template": "...", "context": {...}}; stdout: JSON array of {"output": "..."} or {"error": "..."}.
import { Template } from "@huggingface/jinja";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  input += chunk;
}
const results = JSON.parse(input).map(({ template, context }) => {
  try {
    return { output: new Template(template).render(context) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));
