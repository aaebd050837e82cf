// One request per npm client, printing "200 <answer>" or "error <class> <status> <message>
// <body>" (never the key). The clients are loaded from $DASHKEY_NODE_CLIENTS/node_modules.
"use strict";
const path = require("path");
const load = require("module").createRequire(
  path.join(process.env.DASHKEY_NODE_CLIENTS, "package.json"),
);
const messages = [{ role: "user", content: "hi" }];

async function ask(which) {
  if (which === "openai-node") {
    const { OpenAI } = load("openai");
    const r = await new OpenAI({ maxRetries: 0 }).chat.completions.create({
      model: "qwen-plus",
      messages,
    });
    return r.choices[0].message.content;
  }
  if (which === "ai-sdk") {
    const { generateText } = load("ai");
    const { alibaba } = load("@ai-sdk/alibaba");
    const r = await generateText({ model: alibaba("qwen-plus"), prompt: "hi", maxRetries: 0 });
    return r.text;
  }
  if (which === "langchain-js") {
    const { ChatAlibabaTongyi } = load("@langchain/community/chat_models/alibaba_tongyi");
    const r = await new ChatAlibabaTongyi({ model: "qwen-plus", maxRetries: 0 }).invoke("hi");
    return r.content;
  }
  throw new Error("unknown client " + which);
}

ask(process.argv[2]).then(
  (text) => console.log("200 " + text),
  (error) => {
    const status = error.status ?? error.statusCode ?? "";
    let body = error.error ?? error.responseBody ?? "";
    if (typeof body !== "string") body = JSON.stringify(body);
    const message = String(error.message).replace(/\n/g, " ");
    console.log(`error ${error.constructor.name} ${status} ${message} ${body}`);
  },
);
