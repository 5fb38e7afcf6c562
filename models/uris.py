"""Every URI we mint, in one place, derived from the instance's base URL."""

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Uris:
    base_url: str

    def actor(self, username: str) -> str:
        return f"{self.base_url}/actors/{username}"

    def service(self, group_uri: str) -> str:
        """A group's companion Service (federation.actors.service_to_ap)."""
        return f"{group_uri}/service"

    def instance_actor(self) -> str:
        return f"{self.base_url}/actor"

    def key(self, actor_uri: str) -> str:
        return f"{actor_uri}#main-key"

    def profile(self, username: str) -> str:
        return f"{self.base_url}/@{username}"

    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    def inbox(self, actor_uri: str) -> str:
        return f"{actor_uri}/inbox"

    def outbox(self, actor_uri: str) -> str:
        return f"{actor_uri}/outbox"

    def followers(self, actor_uri: str) -> str:
        return f"{actor_uri}/followers"

    def following(self, actor_uri: str) -> str:
        return f"{actor_uri}/following"

    def featured(self, actor_uri: str) -> str:
        return f"{actor_uri}/collections/featured"

    def activity(self, id: str) -> str:
        return f"{self.base_url}/activities/{id}"

    def object(self, id: str) -> str:
        return f"{self.base_url}/objects/{id}"

    def item(self, uuid: str) -> str:
        # Never under the member: an item posted as the group must not name its author.
        return f"{self.base_url}/items/{uuid}"

    def category(self, group_uri: str, slug: str) -> str:
        return f"{group_uri}/categories/{slug}"

    def taxonomy(self) -> str:
        """The default categories as a SKOS concept scheme (models.taxonomy)."""
        return f"{self.base_url}/taxonomy"

    def concept(self, slug: str) -> str:
        """A default category's concept in this instance's scheme."""
        return f"{self.taxonomy()}#{slug}"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc
