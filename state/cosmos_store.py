"""Documents in Azure Cosmos DB (STORAGE=cosmos), on the async client.

Items have the shape botbuilder-azure's CosmosDbPartitionedStorage reads and
writes, so a deployment can move between the two without losing plain-JSON
state: `id` is the key escaped by its CosmosDbKeyEscape, `realId` the key,
`document` the state, partition key `/id`. The state is plain JSON; a
document jsonpickle wrote is never restored as objects.

Every write carries the etag that was read. Throttling (429) is retried by the
client with the server's retry-after inside THROTTLE_BUDGET, and each operation
has OPERATION_TIMEOUT, both well inside a channel's 15 s turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import PartitionKey, exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient
from botbuilder.azure import CosmosDbKeyEscape

from state.documents import (
    DocumentExists,
    DocumentWrite,
    EtagConflict,
    StorageUnavailable,
    StoredDocument,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

REQUEST_TIMEOUT = 3  # seconds, one HTTP request
THROTTLE_BUDGET = 3  # seconds, all waits on 429s of one operation together
THROTTLE_RETRIES = 5
OPERATION_TIMEOUT = 6.0  # seconds, one read or write including its retries
# Point reads one read() makes at once: a read of many documents (the update sender's
# index) would otherwise open as many connections, and keep them idle in the pool.
READS_AT_ONCE = 8


def cosmos_id(key: str) -> str:
    """The item id for a state key, exactly as botbuilder-azure escapes it."""
    return CosmosDbKeyEscape.sanitize_key(key, "", False)


class CosmosDocumentStore:
    # Each document of a write() is written on its own (one partition a key).
    writes_atomically = False

    def __init__(
        self,
        endpoint: str,
        key: str | None,
        database: str,
        container: str,
        *,
        verify_tls: bool = True,
        create_container: bool = False,
        managed_identity_client_id: str | None = None,
    ) -> None:
        self._managed_identity_client_id = managed_identity_client_id or None
        self._endpoint = endpoint
        self._key = key
        self._database_name = database
        self._container_name = container
        self._verify_tls = verify_tls
        self._create_container = create_container
        self._client: CosmosClient | None = None
        self._credential: AsyncTokenCredential | None = None
        self._container: ContainerProxy | None = None

    async def open(self) -> None:
        credential: str | AsyncTokenCredential
        if self._key:
            credential = self._key
        else:
            from azure.identity.aio import DefaultAzureCredential  # only without a key

            self._credential = credential = DefaultAzureCredential(
                managed_identity_client_id=self._managed_identity_client_id
            )
        self._client = CosmosClient(
            self._endpoint,
            credential,
            connection_verify=self._verify_tls,
            connection_timeout=REQUEST_TIMEOUT,
            retry_total=THROTTLE_RETRIES,
            retry_backoff_max=THROTTLE_BUDGET,
            retry_connect=1,
            retry_read=1,
            retry_backoff_factor=0.2,
            # No proxy or netrc lookups from the environment on every request (they showed
            # in profiles); App Service reaches Cosmos DB directly.
            transport=AioHttpTransport(use_env_settings=False),
        )
        database = self._client.get_database_client(self._database_name)
        if self._create_container:
            database = await self._run(
                self._client.create_database_if_not_exists(self._database_name)
            )
            # defaultTtl -1: TTL on, each document sets its own.
            self._container = await self._run(
                database.create_container_if_not_exists(
                    self._container_name, partition_key=PartitionKey("/id"), default_ttl=-1
                )
            )
        else:
            self._container = database.get_container_client(self._container_name)
            await self._check_provisioned()

    async def _check_provisioned(self) -> None:
        """A missing container is a configuration error; an unreachable account is not fatal."""
        try:
            await self.check()
        except exceptions.CosmosResourceNotFoundError:
            raise StorageUnavailable(
                f"no container {self._container_name!r} in database {self._database_name!r}: "
                "set COSMOS_DATABASE and COSMOS_CONTAINER, deploy the templates, or set "
                "COSMOS_CREATE_CONTAINER=true"
            ) from None
        except StorageUnavailable as error:
            log.warning(
                "Cosmos DB not reachable at start (%s); turns will apologise until it is", error
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._credential is not None:
            await self._credential.close()
            self._credential = None

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        keys = list(keys)
        at_once = asyncio.Semaphore(READS_AT_ONCE)

        async def read_one(key: str) -> dict[str, Any] | None:
            async with at_once:
                return await self._read_item(key)

        items = await asyncio.gather(*(read_one(key) for key in keys))
        return {
            key: StoredDocument(item.get("document") or {}, item["_etag"])
            for key, item in zip(keys, items, strict=True)
            if item is not None
        }

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        etags = {}
        for key, write in writes.items():
            etags[key] = await self._write_item(key, write)
        return etags

    async def delete(self, keys: Iterable[str]) -> None:
        await asyncio.gather(*(self._delete_item(key) for key in keys))

    async def check(self) -> None:
        await self._run(self._require_container().read())

    # --- items ---------------------------------------------------------------

    async def _read_item(self, key: str) -> dict[str, Any] | None:
        item_id = cosmos_id(key)
        try:
            return await self._run(
                self._require_container().read_item(item_id, partition_key=item_id)
            )
        except exceptions.CosmosResourceNotFoundError:
            return None

    async def _write_item(self, key: str, write: DocumentWrite) -> str:
        container = self._require_container()
        item: dict[str, Any] = {"id": cosmos_id(key), "realId": key, "document": write.data}
        if write.ttl:
            item["ttl"] = write.ttl
        try:
            if write.create_only:
                saved = await self._run(container.create_item(item))
            elif write.if_match is not None:
                saved = await self._run(
                    container.replace_item(
                        item["id"],
                        item,
                        etag=write.if_match,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
            else:
                saved = await self._run(container.upsert_item(item))
        except exceptions.CosmosResourceExistsError:
            raise DocumentExists(key) from None
        except exceptions.CosmosAccessConditionFailedError:
            raise EtagConflict(key) from None
        except exceptions.CosmosResourceNotFoundError:
            if write.if_match is not None:  # deleted since it was read
                raise EtagConflict(key) from None
            raise StorageUnavailable(
                f"Cosmos DB has no container {self._container_name!r}"
            ) from None
        return saved["_etag"]

    async def _delete_item(self, key: str) -> None:
        item_id = cosmos_id(key)
        with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
            await self._run(self._require_container().delete_item(item_id, partition_key=item_id))

    def _require_container(self) -> ContainerProxy:
        if self._container is None:
            raise StorageUnavailable("the Cosmos DB store is not open")
        return self._container

    async def _run(self, operation: Awaitable[T]) -> T:
        """One operation inside its deadline; failures other than answers become unavailable."""
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                return await operation
        except (
            exceptions.CosmosResourceNotFoundError,
            exceptions.CosmosResourceExistsError,
            exceptions.CosmosAccessConditionFailedError,
        ):
            raise
        except TimeoutError:
            raise StorageUnavailable(
                f"Cosmos DB did not answer within {OPERATION_TIMEOUT} s"
            ) from None
        except exceptions.CosmosHttpResponseError as error:
            if error.status_code == 429:
                log.warning("Cosmos DB throttled past the %s s budget", THROTTLE_BUDGET)
            raise StorageUnavailable(f"Cosmos DB answered {error.status_code}") from error
        except (AzureError, OSError) as error:
            raise StorageUnavailable(f"Cosmos DB unreachable: {type(error).__name__}") from error
