// Looks up each handle or URL given on the command line with Fedify and prints one JSON line per identifier
// describing what Fedify parsed. Fedify's own log goes to stderr. Exit status 1 if any lookup threw.
import { createFederation, MemoryKvStore } from "@fedify/fedify";
import { getActorHandle, isActor, Link, PropertyValue } from "@fedify/vocab";
import { configure, defaultTextFormatter } from "@logtape/logtape";

await configure({
  sinks: { stderr: (record) => process.stderr.write(defaultTextFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: "debug", sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

// A federation object only to get a Context whose lookups may reach loopback addresses (our test node).
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
const ctx = federation.createContext(new URL("https://fedify-client.invalid/"), undefined);

const text = (value) => (value == null ? null : String(value));
const href = (value) => (value instanceof Link ? value.href?.href ?? null : value?.href ?? null);

async function spkiPem(cryptoKey) {
  const der = Buffer.from(await crypto.subtle.exportKey("spki", cryptoKey)).toString("base64");
  return `-----BEGIN PUBLIC KEY-----\n${der.match(/.{1,64}/g).join("\n")}\n-----END PUBLIC KEY-----\n`;
}

async function describeWebFinger(resource) {
  const jrd = await ctx.lookupWebFinger(resource);
  if (jrd == null) return null;
  const self = (jrd.links ?? []).filter((link) => link.rel === "self" && link.type === "application/activity+json");
  return { subject: jrd.subject ?? null, aliases: jrd.aliases ?? [], self: self.map((link) => link.href) };
}

async function describe(object) {
  if (!isActor(object)) return { class: object.constructor.name, isActor: false, id: href(object.id) };
  const key = await object.getPublicKey({ suppressError: true });
  const attachments = [];
  for await (const item of object.getAttachments({ suppressError: true })) {
    attachments.push(item instanceof PropertyValue
      ? { type: "PropertyValue", name: text(item.name), value: text(item.value) }
      : { type: item.constructor.name });
  }
  let handle;
  try {
    handle = await getActorHandle(object);
  } catch (error) {
    handle = { error: String(error) };
  }
  return {
    class: object.constructor.name,
    isActor: isActor(object),
    id: href(object.id),
    preferredUsername: text(object.preferredUsername),
    name: text(object.name),
    summary: text(object.summary),
    url: href(object.url),
    inbox: href(object.inboxId),
    outbox: href(object.outboxId),
    sharedInbox: href(object.endpoints?.sharedInbox),
    followers: href(object.followersId),
    following: href(object.followingId),
    featured: href(object.featuredId),
    manuallyApprovesFollowers: object.manuallyApprovesFollowers,
    discoverable: object.discoverable,
    indexable: object.indexable,
    publicKey: key == null ? null : {
      id: href(key.id),
      owner: href(key.ownerId),
      cryptoKey: key.publicKey instanceof CryptoKey,
      pem: key.publicKey instanceof CryptoKey ? await spkiPem(key.publicKey) : null,
    },
    attachments,
    handle,
    // getActorHandle cannot WebFinger a loopback host (it does not take allowPrivateAddress), so the round trip
    // it would make (resource = actor id), and Mastodon's (acct:preferredUsername@host of id), are made here.
    webfingerById: await describeWebFinger(object.id),
    webfingerByAcct: await describeWebFinger(`acct:${object.preferredUsername}@${object.id.host}`),
  };
}

let failed = false;
for (const identifier of process.argv.slice(2)) {
  try {
    const object = await ctx.lookupObject(identifier);
    const result = object == null ? { found: false } : { found: true, ...await describe(object) };
    console.log(JSON.stringify({ identifier, ...result }));
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ identifier, error: String(error?.stack ?? error) }));
  }
}
process.exitCode = failed ? 1 : 0;
