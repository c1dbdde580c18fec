"""The node's URL layout: every IRI it mints, derived from the configured base URL."""

from urllib.parse import quote

from vocab.profile import ActorUrls

INSTANCE_ACTOR_PATH = "/actor"
INSTANCE_USERNAME = "@instance"  # internal name of the instance actor; never a valid handle


class Urls:
    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")

    def actor(self, username: str) -> str:
        return f"{self.base}/actors/{quote(username)}"

    def actor_or_instance(self, username: str) -> str:
        """The IRI of a local actor, the instance actor included."""
        return self.instance_actor if username == INSTANCE_USERNAME else self.actor(username)

    def profile_page(self, username: str) -> str:
        return f"{self.base}/@{quote(username)}"

    def notice(self, key: str) -> str:
        """A direct message telling an organisation of new matches (private: no route serves it)."""
        return f"{self.base}/notices/{key}"

    @property
    def instance_actor(self) -> str:
        return self.base + INSTANCE_ACTOR_PATH

    @property
    def shared_inbox(self) -> str:
        return self.base + "/inbox"

    def actor_urls(self, username: str) -> ActorUrls:
        return self._parts_of(self.actor(username), self.profile_page(username))

    def instance_actor_urls(self) -> ActorUrls:
        return self._parts_of(self.instance_actor, self.base + "/")

    def _parts_of(self, actor_id: str, profile_page: str) -> ActorUrls:
        return ActorUrls(
            id=actor_id,
            inbox=f"{actor_id}/inbox",
            outbox=f"{actor_id}/outbox",
            followers=f"{actor_id}/followers",
            following=f"{actor_id}/following",
            featured=f"{actor_id}/featured",
            needs=f"{actor_id}/needs",
            offers=f"{actor_id}/offers",
            profile_page=profile_page,
            shared_inbox=self.shared_inbox,
        )

    def murmurations_organisation(self, username: str) -> str:
        """A hosted organisation's Murmurations profile (organizations_schema-v1.0.0)."""
        return f"{self.base}/murmurations/organizations/{quote(username)}.json"

    def murmurations_offer_want(self, iri: str) -> str | None:
        """The Murmurations profile (offers_wants_schema-v0.1.0) of one of our objects, None for any other IRI."""
        prefix = f"{self.base}/objects/"
        return f"{self.base}/murmurations/offers-wants/{iri[len(prefix):]}.json" if iri.startswith(prefix) else None

    def username_from_actor_iri(self, iri: str) -> str | None:
        """The local username an actor IRI (or profile page URL) names, if it is one of ours."""
        scheme, separator, rest = iri.partition("://")
        host, slash, path = rest.partition("/")
        iri = f"{scheme.lower()}{separator}{host.lower()}{slash}{path}"
        for prefix in (f"{self.base}/actors/", f"{self.base}/@"):
            if iri.startswith(prefix):
                rest = iri[len(prefix):]
                if rest and "/" not in rest and "#" not in rest and "?" not in rest:
                    return rest.lower()
        return None
