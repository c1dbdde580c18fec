"""The operator's view of the delivery queue: deliveries per host with their latest error, and retrying those
that failed or expired (`coopnode deliveries`, `coopnode deliveries retry`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class HostSummary:
    host: str
    pending: int
    failed: int
    expired: int
    sent: int
    last_status: int | None
    last_error: str | None
    paused_until: int | None


async def summary(db) -> list[HostSummary]:
    """Per host: rows in each state and the latest error, failing hosts first (what `coopnode deliveries` shows)."""
    rows = await db.fetch_all(
        """
        SELECT d.host,
               SUM(d.state = 'pending'), SUM(d.state = 'failed'), SUM(d.state = 'expired'), SUM(d.state = 'sent'),
               (SELECT last_status FROM deliveries x WHERE x.host = d.host AND x.attempts > 0
                ORDER BY COALESCE(x.sent_at, x.next_attempt_at) DESC LIMIT 1),
               (SELECT last_error FROM deliveries x WHERE x.host = d.host AND x.last_error IS NOT NULL
                ORDER BY x.next_attempt_at DESC LIMIT 1),
               p.paused_until
        FROM deliveries d LEFT JOIN peers p ON p.host = d.host
        GROUP BY d.host ORDER BY SUM(d.state IN ('pending', 'failed', 'expired')) DESC, d.host
        """)
    return [HostSummary(*row) for row in rows]


async def retry(db, *, now: int, host: str | None = None, activity_id: str | None = None) -> int:
    """Put failed and expired deliveries (of one host or activity, or all) back in the queue, due now.
    A retried row gets a fresh 72-hour window; the host's pause, if any, is lifted."""
    conditions, parameters = ["state IN ('failed', 'expired')"], []
    if host:
        conditions.append("host = ?")
        parameters.append(host.lower())
    if activity_id:
        conditions.append("activity_id = ?")
        parameters.append(activity_id)
    async with db.transaction() as connection:
        cursor = await connection.execute(
            f"UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?, "
            f"leased_until = NULL WHERE {' AND '.join(conditions)}", (now, now, *parameters))
        if cursor.rowcount:
            host_filter = " WHERE host = ?" if host else ""
            await connection.execute(f"UPDATE peers SET paused_until = NULL{host_filter}",
                                     (host.lower(),) if host else ())
        return cursor.rowcount
