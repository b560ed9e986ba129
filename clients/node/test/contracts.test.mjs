// getContracts and searchSymbols against the real bridge and simulator: ES's expiries, a con_id, an unknown symbol as
// NotFoundError, a search for AAPL, a text with a comma as ValidationError before anything is sent.

import assert from "node:assert/strict";
import { test } from "node:test";

import { NotFoundError, ValidationError } from "../dist/index.js";
import { client } from "./helpers.mjs";

test("getContracts lists ES's futures by expiry and a con_id names one of them", async () => {
  const listed = await client().getContracts({ symbol: "ES", sec_type: "FUT", exchange: "CME" });
  assert.equal(listed.success, true);
  assert.ok(listed.count >= 2);
  assert.equal(listed.contracts.length, listed.count);
  const expiries = listed.contracts.map((c) => c.last_trade_date);
  assert.deepEqual([...expiries].sort(), expiries);
  for (const contract of listed.contracts) {
    assert.equal(contract.sec_type, "FUT");
    assert.equal(contract.multiplier, "50");
    assert.match(contract.local_symbol, /^ES[HMUZ]\d$/);
  }
  const front = listed.contracts[0];
  const one = await client().getContracts({ con_id: front.con_id });
  assert.deepEqual(one.contracts, [front]);
  const unknown = await client().getContracts({ symbol: "NOSUCHSYM" }).catch((e) => e);
  assert.ok(unknown instanceof NotFoundError);
  assert.equal(unknown.code, "symbol_not_found");
});

test("searchSymbols finds AAPL and refuses a comma", async () => {
  const found = await client().searchSymbols("AAP");
  assert.equal(found.success, true);
  const aapl = found.matches.find((m) => m.symbol === "AAPL");
  assert.ok(aapl, JSON.stringify(found));
  assert.equal(aapl.sec_type, "STK");
  assert.equal(found.count, found.matches.length);
  const comma = await client().searchSymbols("AAP,L").catch((e) => e);
  assert.ok(comma instanceof ValidationError);
  assert.equal(comma.code, "invalid_request");
});
