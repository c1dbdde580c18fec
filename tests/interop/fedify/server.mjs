// A small Fedify server (one Person, "fedi") that federates with a coopnode under test, over HTTPS.
//
// Environment: TLS_CERT and TLS_KEY (PEM files for "localhost"), NODE_EXTRA_CA_CERTS (the CA that signed the
// coopnode's certificate), FEDIFY_FIRST_KNOCK ("rfc9421", Fedify's default, or "draft-cavage-http-signatures-12").
// Once it listens it prints one JSON line on stdout, {"origin": "https://localhost:PORT", "actor": "…"}; its
// log (LogTape, debug for Fedify) goes to stderr.
//
// Control API for the test (not signed, loopback only):
//   POST /_control/follow   {"target": URL or handle}  follow an actor; answers {"id": follow id, "target": …}
//   POST /_control/unfollow {"target": actor URL}      Undo(Follow) of an earlier follow; answers {"id", …}
//   POST /_control/post     {"content": HTML}          Create(Note) to followers; answers {"create", "note"}
//   POST /_control/accept-only {"scheme": null | "rfc9421" | "draft-cavage-http-signatures-12"}
//        the inbox answers 401 (before Fedify sees it) to requests signed with the other scheme
//   GET  /_control/state    what the inbox received and verified, every inbox request with its signature
//        scheme and status, followers, follows sent and their state, outbox errors
//
// Each received entry's `object.details` is what Fedify's vocabulary parsed of the object: its class, addressing,
// tags and place, and for a FEP-0837 Proposal its Intents, for a Tombstone its former types.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { randomUUID } from "node:crypto";
import { createFederation, generateCryptoKeyPair, InProcessMessageQueue, MemoryKvStore } from "@fedify/fedify";
import { Accept, Create, Endpoints, Follow, isActor, Note, Person, PUBLIC_COLLECTION, Reject, Undo } from "@fedify/vocab";
import { Delete, Link, Object as ASObject, Proposal, Tombstone, Update } from "@fedify/vocab";
import { Temporal } from "@js-temporal/polyfill";
import { configure, defaultTextFormatter } from "@logtape/logtape";

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: (record) => process.stderr.write(defaultTextFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: "debug", sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

const USERNAME = "fedi";
const CAVAGE = "draft-cavage-http-signatures-12";
const RFC9421 = "rfc9421";

const state = {
  received: [],       // activities the inbox listeners got: only verified ones reach a listener
  unverified: [],     // activities Fedify refused to verify, with its reason
  inboxRequests: [],  // every POST to an inbox: scheme, keyId, activity id/type, the status answered
  followers: new Map(),  // actor id -> the actor (a Recipient)
  following: new Map(),  // follow id -> { target, state }
  outboxErrors: [],
  acceptOnly: null,
};

// As Fedify's own guide (and Hollo, Ghost…) do: RSA for HTTP signatures, Ed25519 for Object Integrity Proofs.
const keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"), await generateCryptoKeyPair("Ed25519")];
const notes = new Map();

const server = createServer({ cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) });
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `https://localhost:${server.address().port}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  queue: new InProcessMessageQueue(),
  origin,
  allowPrivateAddress: true,
  firstKnock: process.env.FEDIFY_FIRST_KNOCK || RFC9421,
  circuitBreaker: false,
  onOutboxError: (error, activity) => {
    state.outboxErrors.push({ activity: activity?.id?.href ?? null, error: String(error?.stack ?? error) });
  },
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify peer",
      summary: "An independent ActivityPub implementation, for coopnode's interop tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((key) => key.multikey),
    });
  })
  .setKeyPairsDispatcher(async (ctx, identifier) => (identifier === USERNAME ? keyPairs : []));

federation.setFollowersDispatcher("/users/{identifier}/followers", async (ctx, identifier) =>
  identifier === USERNAME ? { items: [...state.followers.values()] } : null);

federation.setObjectDispatcher(Note, "/notes/{id}", async (ctx, values) => notes.get(values.id) ?? null);

const sender = { identifier: USERNAME };
const text = (value) => (value == null ? null : String(value));
const href = (value) => (value instanceof Link ? value.href?.href ?? null : value?.href ?? null);

function measure(value) {
  return value == null ? null : { unit: text(value.unit), numericalValue: text(value.numericalValue) };
}

function intent(value) {
  return value == null ? null : {
    class: value.constructor.name,
    action: text(value.action),
    resourceConformsTo: href(value.resourceConformsTo),
    resourceQuantity: measure(value.resourceQuantity),
    availableQuantity: measure(value.availableQuantity),
    minimumQuantity: measure(value.minimumQuantity),
  };
}

// What Fedify's vocabulary made of an object beyond the basics recorded for every activity.
async function details(options, object) {
  const tags = [];
  for await (const tag of object.getTags(options)) {
    tags.push({ class: tag.constructor.name, name: text(tag.name), href: href(tag.href) });
  }
  const place = await object.getLocation(options).catch(() => null);
  const result = {
    class: object.constructor.name,
    name: text(object.name),
    url: href(object.url),
    published: text(object.published),
    updated: text(object.updated),
    to: object.toIds.map((id) => id.href),
    cc: object.ccIds.map((id) => id.href),
    tags,
    location: place == null ? null : {
      class: place.constructor.name, name: text(place.name), latitude: place.latitude ?? null,
      longitude: place.longitude ?? null,
    },
  };
  if (object instanceof Proposal) {
    Object.assign(result, {
      purpose: text(object.purpose), unitBased: object.unitBased,
      publishes: intent(object.publishes), reciprocal: intent(object.reciprocal),
    });
  }
  if (object instanceof Tombstone) {
    Object.assign(result, { formerTypes: object.formerTypes.map((type) => type.name), deleted: text(object.deleted) });
  }
  return result;
}

async function record(ctx, activity, extra = {}) {
  // "trust": record the embedded object as sent.  By default Fedify ignores an embedded object from another
  // origin than the activity's (our Accept embeds Fedify's own Follow) and fetches it from its id instead.
  const options = { ...ctx, crossOrigin: "trust", suppressError: true };
  const object = await activity.getObject(options).catch(() => null);
  const entry = {
    id: activity.id?.href ?? null,
    objectId: activity.objectId?.href ?? null,
    type: activity.constructor.name,
    actor: activity.actorId?.href ?? null,
    recipient: ctx.recipient,
    object: object == null ? activity.objectId?.href ?? null : {
      id: object.id?.href ?? null,
      type: object.constructor.name,
      actor: object.actorId?.href ?? null,
      object: object.objectId?.href ?? null,
      content: text(object.content),
      attributedTo: object.attributionId?.href ?? null,
      details: object instanceof ASObject
        ? await details(options, object).catch((error) => ({ error: String(error?.stack ?? error) }))
        : null,
    },
    verified: true,  // Fedify calls a listener only after the signature (here: HTTP) verified
    ...extra,
  };
  state.received.push(entry);
  return { entry, object };
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    const target = ctx.parseUri(follow.objectId);
    if (target?.type !== "actor" || target.identifier !== USERNAME) return;
    const follower = await follow.getActor(ctx);
    if (!isActor(follower)) throw new Error(`the follower ${follow.actorId?.href} is not an actor`);
    state.followers.set(follower.id.href, follower);
    await ctx.sendActivity(sender, follower, new Accept({
      id: new URL(`${origin}/activities/${randomUUID()}`),
      actor: ctx.getActorUri(USERNAME),
      object: follow,
    }));
  })
  .on(Accept, async (ctx, accept) => {
    const { entry } = await record(ctx, accept);
    const follow = state.following.get(entry.objectId);
    if (follow != null && follow.target === entry.actor) follow.state = "accepted";
  })
  .on(Reject, async (ctx, reject) => {
    const { entry } = await record(ctx, reject);
    const follow = state.following.get(entry.objectId);
    if (follow != null && follow.target === entry.actor) follow.state = "rejected";
  })
  .on(Create, async (ctx, create) => {
    await record(ctx, create);
  })
  .on(Update, async (ctx, update) => {
    await record(ctx, update);
  })
  .on(Delete, async (ctx, deletion) => {
    await record(ctx, deletion);
  })
  .on(Undo, async (ctx, undo) => {
    const { object } = await record(ctx, undo);
    if (object instanceof Follow && object.actorId?.href === undo.actorId?.href) {
      state.followers.delete(undo.actorId.href);
    }
  })
  .onUnverifiedActivity(async (ctx, activity, reason) => {
    state.unverified.push({
      id: activity.id?.href ?? null,
      type: activity.constructor.name,
      actor: activity.actorId?.href ?? null,
      reason: reason.type,
      keyId: reason.keyId?.href ?? null,
    });
    // Returning nothing: Fedify answers 401 as it would without this hook.
  })
  .onError(async (ctx, error) => {
    state.outboxErrors.push({ inbox: true, error: String(error?.stack ?? error) });
  });

// ---------------------------------------------------------------- control API

async function follow(ctx, { target }) {
  const actor = await ctx.lookupObject(target);
  if (!isActor(actor)) return Response.json({ error: `${target} is not an actor: ${actor}` }, { status: 400 });
  const id = `${origin}/follows/${randomUUID()}`;
  state.following.set(id, { target: actor.id.href, state: "requested" });
  await ctx.sendActivity(sender, actor, new Follow({
    id: new URL(id), actor: ctx.getActorUri(USERNAME), object: actor.id,
  }));
  return Response.json({ id, target: actor.id.href });
}

async function unfollow(ctx, { target }) {
  const [id, follow] = [...state.following].find(([, entry]) => entry.target === target) ?? [];
  if (id == null) return Response.json({ error: `${target} is not followed` }, { status: 400 });
  const actor = await ctx.lookupObject(target);
  if (!isActor(actor)) return Response.json({ error: `${target} is not an actor: ${actor}` }, { status: 400 });
  state.following.delete(id);
  const undo = new Undo({
    id: new URL(`${origin}/activities/${randomUUID()}`),
    actor: ctx.getActorUri(USERNAME),
    object: new Follow({ id: new URL(id), actor: ctx.getActorUri(USERNAME), object: actor.id }),
  });
  await ctx.sendActivity(sender, actor, undo);
  return Response.json({ id: undo.id.href, follow: id, state: follow.state });
}

async function post(ctx, { content }) {
  const noteId = randomUUID();
  const actorUri = ctx.getActorUri(USERNAME);
  const note = new Note({
    id: ctx.getObjectUri(Note, { id: noteId }),
    attribution: actorUri,
    content,
    to: PUBLIC_COLLECTION,
    cc: ctx.getFollowersUri(USERNAME),
    published: Temporal.Now.instant(),
  });
  notes.set(noteId, note);
  const create = new Create({
    id: new URL(`${origin}/activities/${randomUUID()}`),
    actor: actorUri,
    object: note,
    to: PUBLIC_COLLECTION,
    cc: ctx.getFollowersUri(USERNAME),
  });
  await ctx.sendActivity(sender, "followers", create, { preferSharedInbox: true });
  return Response.json({ create: create.id.href, note: note.id.href });
}

function snapshot() {
  return Response.json({
    origin,
    actor: `${origin}/users/${USERNAME}`,
    received: state.received,
    unverified: state.unverified,
    inboxRequests: state.inboxRequests,
    followers: [...state.followers.keys()],
    following: Object.fromEntries(state.following),
    outboxErrors: state.outboxErrors,
    acceptOnly: state.acceptOnly,
  });
}

async function control(request, url) {
  const ctx = federation.createContext(request, undefined);
  const body = request.method === "POST" ? await request.json() : {};
  switch (`${request.method} ${url.pathname}`) {
    case "POST /_control/follow": return await follow(ctx, body);
    case "POST /_control/unfollow": return await unfollow(ctx, body);
    case "POST /_control/post": return await post(ctx, body);
    case "POST /_control/accept-only":
      state.acceptOnly = body.scheme ?? null;
      return Response.json({ acceptOnly: state.acceptOnly });
    case "GET /_control/state": return snapshot();
    default: return Response.json({ error: "no such control" }, { status: 404 });
  }
}

// ---------------------------------------------------------------- HTTP: node:https <-> fetch API

function schemeOf(headers) {
  if (headers.has("signature-input")) return RFC9421;
  if (headers.get("signature")?.toLowerCase().includes("keyid=")) return CAVAGE;
  return null;
}

function keyIdOf(headers) {
  const input = headers.get("signature-input") ?? headers.get("signature") ?? "";
  return /keyid="([^"]*)"/i.exec(input)?.[1] ?? null;
}

async function inbox(request) {
  const scheme = schemeOf(request.headers);
  let activity = {};
  try {
    activity = await request.clone().json();
  } catch { /* Fedify answers that itself */ }
  const entry = {
    path: new URL(request.url).pathname, scheme, keyId: keyIdOf(request.headers),
    activity: typeof activity?.id === "string" ? activity.id : null, type: activity?.type ?? null,
  };
  state.inboxRequests.push(entry);
  let response;
  if (state.acceptOnly != null && scheme !== state.acceptOnly) {
    response = new Response(`this test inbox accepts only ${state.acceptOnly} signatures`, { status: 401 });
    entry.refusedByTest = true;
  } else {
    response = await federation.fetch(request, { contextData: undefined });
  }
  entry.status = response.status;
  if (response.status >= 300) entry.answer = await response.clone().text();
  return response;
}

async function handle(request) {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/_control/")) return await control(request, url);
  if (request.method === "POST" && (url.pathname === "/inbox" || /^\/users\/[^/]+\/inbox$/.test(url.pathname))) {
    return await inbox(request);
  }
  return await federation.fetch(request, { contextData: undefined });
}

server.on("request", async (incoming, outgoing) => {
  try {
    const chunks = [];
    for await (const chunk of incoming) chunks.push(chunk);
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    const hasBody = !["GET", "HEAD"].includes(incoming.method);
    const request = new Request(new URL(incoming.url, origin), {
      method: incoming.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined,
    });
    const response = await handle(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    process.stderr.write(`request failed: ${error?.stack ?? error}\n`);
    outgoing.writeHead(500, { "Content-Type": "text/plain" });
    outgoing.end(String(error));
  }
});

console.log(JSON.stringify({ origin, actor: `${origin}/users/${USERNAME}` }));
