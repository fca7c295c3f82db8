// The official OpenAI SDK through pdgate: a streamed and a non-streamed chat, and an unknown
// model raising the SDK's NotFoundError. Prints one line per check; exits non-zero on failure.
// Usage: node openai_sdk_test.mjs http://127.0.0.1:PORT/v1 MODEL
import OpenAI from 'openai';

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'sk-test', maxRetries: 0, timeout: 20000 });
const messages = [{ role: 'user', content: 'Where is the capital of China?' }];
let failed = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok' : 'FAILED'} ${name}${detail ? ': ' + detail : ''}`);
  if (!ok) failed++;
};

const whole = await client.chat.completions.create({ model, messages, max_tokens: 16 });
const text = whole.choices[0].message.content;
check('non-streaming chat', typeof text === 'string' && text.length > 0, JSON.stringify(text));
check('usage', whole.usage && whole.usage.completion_tokens > 0);

const stream = await client.chat.completions.create({ model, messages, max_tokens: 16, stream: true });
let streamed = '';
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  for (const choice of chunk.choices) streamed += choice.delta?.content ?? '';
}
check('streaming chat', chunks > 1 && streamed === text, `${chunks} chunks, ${JSON.stringify(streamed)}`);

try {
  await client.chat.completions.create({ model: 'no-such-model', messages });
  check('unknown model raises NotFoundError', false, 'no error');
} catch (error) {
  check('unknown model raises NotFoundError', error instanceof OpenAI.NotFoundError,
        `${error.constructor.name} ${error.status} ${error.message}`);
}
process.exit(failed === 0 ? 0 : 1);
