// Loaded with `node --require` before a client: every URL the client fetches, with the shape
// of the key it sends, is appended to $DASHKEY_TEST_SENT (what it really sends), and
// DashScope's public hosts are sent to the test's fake regions ($DASHKEY_TEST_REDIRECT, JSON
// {"https://host": "http://127.0.0.1:PORT"}) the way /etc/hosts would. With $DASHKEY_TEST_DRY
// set nothing leaves the process.
"use strict";
const fs = require("fs");
const redirect = JSON.parse(process.env.DASHKEY_TEST_REDIRECT || "{}");
const sent = process.env.DASHKEY_TEST_SENT;
const realFetch = globalThis.fetch;

// What the Authorization header carries, never the key itself: none, empty, padded (leading
// whitespace; fetch strips trailing whitespace from header values) or key.
function keyShape(input, init) {
  const given = (init && init.headers) || (input instanceof Request ? input.headers : {});
  const headers = new Headers(given);
  const auth = headers.get("authorization");
  if (auth === null) return "none";
  const token = auth.replace(/^Bearer ?/, "");
  if (token.trim() === "") return "empty";
  return token === token.trim() ? "key" : "padded";
}
globalThis.fetch = async function (input, init) {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (sent) fs.appendFileSync(sent, url + "\t" + keyShape(input, init) + "\n");
  if (process.env.DASHKEY_TEST_DRY) throw new Error("dry run: not sent");
  let target = url;
  for (const [from, to] of Object.entries(redirect)) {
    if (url === from || url.startsWith(from + "/")) {
      target = to + url.slice(from.length);
      break;
    }
  }
  if (typeof input === "string" || input instanceof URL) return realFetch(target, init);
  return realFetch(new Request(target, input), init);
};
