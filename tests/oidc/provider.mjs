// A real OpenID Connect provider (the npm package oidc-provider) on a
// loopback port, for the staff single sign-on tests (tests/test_sso.py).
//
//   node tests/oidc/provider.mjs PORT
//
// The client and the accounts come as JSON in OIDC_TEST_CONFIG:
//   {"client": {"client_id", "client_secret", "redirect_uris": [...]},
//    "accounts": {"<login>": {"password", "sub", "email", "email_verified", "name"}}}
//
// Logging in is a plain HTML form (login, password) that checks the password;
// consent is given at once (a first-party application). Prints "ready" when
// it listens.
import http from "node:http";
import { URLSearchParams } from "node:url";

import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const config = JSON.parse(process.env.OIDC_TEST_CONFIG);
const issuer = `http://127.0.0.1:${port}`;
const bySub = Object.fromEntries(
  Object.values(config.accounts).map((account) => [account.sub, account]),
);

const provider = new Provider(issuer, {
  clients: [
    {
      ...config.client,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  cookies: { keys: ["oidc-test-cookie-key"] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => false },
  async findAccount(ctx, sub) {
    const account = bySub[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: account.email_verified,
          name: account.name,
        };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function form(uid, error) {
  return `<!doctype html><title>Test provider</title>
<form method="post" action="/interaction/${uid}/login">
${error ? `<p class="error">${escape(error)}</p>` : ""}
<input name="login"><input name="password" type="password"><button>Sign in</button>
</form>`;
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "consent") {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (details.prompt.details.missingOIDCScope) {
      grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(" "));
    }
    if (details.prompt.details.missingOIDCClaims) {
      grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (action === "login" && req.method === "POST") {
    const { login, password } = await readForm(req);
    const account = config.accounts[login];
    if (!account || account.password !== password) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(form(uid, "Wrong login or password"));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { "content-type": "text/html" });
  res.end(form(uid));
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login))?/);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(String(error));
  }
});
server.listen(port, "127.0.0.1", () => {
  console.log("ready");
});
