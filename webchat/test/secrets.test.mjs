// webchat/src/secrets.js, the widget's copy of core/secrets.py, against tests/secrets_corpus.yml:
// the one corpus both copies must pass.
//
// pytest runs this (tests/integration/core/test_secrets_js.py): it passes the corpus as JSON in the
// file named by SECRETS_CORPUS_JSON, with Python's output for many texts under "python", which
// this copy must reproduce exactly. Run alone (`node --test webchat/test/`), it reads the YAML
// through the project's Python (.venv/bin/python, or $PYTHON) and skips the comparison.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import vm from "node:vm";

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SOURCE = path.join(ROOT, "webchat", "src", "secrets.js");
const secrets = require(SOURCE);
const BIG = 200000;
const TIME_LIMIT_MS = 1000;

function loadCorpus() {
  if (process.env.SECRETS_CORPUS_JSON) return JSON.parse(readFileSync(process.env.SECRETS_CORPUS_JSON, "utf8"));
  const venv = path.join(ROOT, ".venv", "bin", "python");
  const python = process.env.PYTHON || (existsSync(venv) ? venv : "python3");
  const script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)";
  const corpus = path.join(ROOT, "tests", "secrets_corpus.yml");
  return JSON.parse(execFileSync(python, ["-c", script, corpus], { encoding: "utf8" }));
}

const corpus = loadCorpus();

test("the corpus has both kinds of case", () => {
  assert.ok(corpus.mask.length >= 80 && corpus.keep.length >= 50);
});

corpus.mask.forEach((testCase, i) => {
  test(`mask-${String(i).padStart(3, "0")}: ${testCase.text}`, () => {
    const masked = secrets.maskSecrets(testCase.text);
    assert.ok(masked.includes(secrets.MASK), masked);
    assert.deepEqual(testCase.secrets.filter((s) => masked.includes(s)), [], masked);
    assert.deepEqual((testCase.survive || []).filter((w) => !masked.includes(w)), [], masked);
  });
});

corpus.keep.forEach((text, i) => {
  test(`keep-${String(i).padStart(3, "0")}: ${text}`, () => {
    assert.equal(secrets.maskSecrets(text), text);
    assert.deepEqual(secrets.findSecrets(text), []);
  });
});

test("the same output as core/secrets.py for every text pytest sent", { skip: !corpus.python }, () => {
  const differ = corpus.python.filter(([text, masked]) => secrets.maskSecrets(text) !== masked);
  assert.deepEqual(differ.slice(0, 5), []);
  assert.ok(corpus.python.length > 1000);
});

test("spans and kinds", () => {
  const text = "my password is Hunter2! and 验证码是482913";
  const found = secrets.findSecrets(text).map((s) => [text.slice(s.start, s.end), s.kind]);
  assert.deepEqual(found, [["Hunter2!", "password"], ["482913", "code"]]);
});

test("long messages are cut at the cap", () => {
  const text = "x ".repeat(secrets.MAX_MESSAGE_CHARS / 2 - 3) + "Hunter2Hunter2 tail";
  const masked = secrets.maskSecrets(text);
  assert.ok(masked.endsWith(" " + secrets.TRUNCATED) && !masked.includes("Hunter"));
  assert.equal(secrets.cap("short"), "short");
});

test("a plain <script> defines window.AlimailSecrets (no module system, no bundler)", () => {
  const browser = vm.createContext({});
  vm.runInContext(readFileSync(SOURCE, "utf8"), browser);
  assert.equal(browser.AlimailSecrets.maskSecrets("pw: abc123"), "pw: [hidden]");
});

const fill = (unit, length = BIG) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
const ADVERSARIAL = {
  "spaces after a cue": () => "password" + " ".repeat(BIG),
  "whitespace then a word": () => "a" + " ".repeat(BIG) + "b",
  "pw repeated": () => fill("pw "),
  "pw: repeated": () => fill("pw:"),
  "cue glued in a run": () => fill("apassword-"),
  "password is repeated": () => fill("password is correct horse "),
  "quotes never closed": () => fill("password \u201c"),
  "one open quote": () => 'password "' + "a".repeat(BIG),
  "chinese cues": () => fill("密码"),
  "codes after cues": () => fill("验证码1234 "),
  "digits": () => "1".repeat(BIG),
  "digit space": () => fill("1 "),
  "four digits and commas": () => fill("1234, "),
  "four-letter words after a cue": () => fill("password abcd "),
  "sixteen letters": () => fill("abcdefghijklmnop "),
  "token characters": () => fill("aB3_"),
  "dots": () => ".".repeat(BIG) + "x",
  "visible ASCII": () => fill("!a1B"),
  "everything": () => fill("my password is Hunter2! code 482913 验证码是123456 ALM-000123 2024-11-20 "),
};

for (const [name, make] of Object.entries(ADVERSARIAL)) {
  test(`linear time: ${name}`, () => {
    const text = make();
    for (const fn of [secrets.maskSecrets, secrets.findSecrets]) {
      const start = process.cpuUsage();
      fn(text);
      const used = process.cpuUsage(start);
      assert.ok((used.user + used.system) / 1000 < TIME_LIMIT_MS, `${fn.name}: ${used.user / 1000} ms`);
    }
  });
}
