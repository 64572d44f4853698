using System.Text.Json;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Faults;

// The operations of the plan, one method per FaultOpKind, dispatched in RunOpAsync. A new kind of operation: its
// FaultOpKind value and weight (RandomizedFaultPlan.cs), a case in RunOpAsync and its method in this file.
public sealed partial class RandomizedFaultTests
{
    private sealed partial class FaultRun
    {
        /// <summary>Runs one operation of the plan: the barrier kinds alone on their session, the others beside up to three more.</summary>
        private async Task RunOpAsync(FaultOp op)
        {
            var slot = _slots[op.Slot];
            switch (op.Kind)
            {
                case FaultOpKind.RegenerateIncrement:
                    await using (await slot.ExclusiveAsync())
                    {
                        await RegenerateAsync(slot, op);
                    }

                    return;
                case FaultOpKind.SlowRegenerate:
                    await using (await slot.ExclusiveAsync())
                    {
                        await SlowRegenerateAsync(slot, op);
                    }

                    return;
                case FaultOpKind.Abandon:
                    await using (await slot.ExclusiveAsync())
                    {
                        await AbandonAsync(slot, op);
                    }

                    return;
                case FaultOpKind.Anonymous:
                    await AnonymousAsync(op.Host, op.Variant, op.ToString());
                    return;
            }

            await using var permit = await slot.SharedAsync();
            var ledger = slot.Current;
            if (ledger is null)
            {
                return; // the slot lost its session and could not get a new one (reported then)
            }

            switch (op.Kind)
            {
                case FaultOpKind.Increment when op.Cancel == FaultCancel.Waiting:
                {
                    // A slow holder first; once it is inside, a second increment queues behind it and gives up.
                    var holder = IncrementAsync(ledger, op.Host, op.HolderMs, FaultCancel.None, 0, op + " (holder)");
                    await Task.Delay(25);
                    var waiter = IncrementAsync(ledger, (op.Host + 1) % Hosts.Length, 0, FaultCancel.Waiting, op.CancelMs, op + " (waiter)");
                    await Task.WhenAll(holder, waiter);
                    break;
                }

                case FaultOpKind.Increment:
                    await IncrementAsync(ledger, op.Host, op.EndpointMs, op.Cancel, op.CancelMs, op.ToString(), op.Variant switch { 1 => "complete", 2 => "no-content", _ => null });
                    break;
                case FaultOpKind.Read:
                    await ReadAsync(ledger, op);
                    break;
                case FaultOpKind.RequiredRead:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/get-required?key=w", ledger.Id, op.Cancel, op.CancelMs);
                    Record("required read", reply, ledger, op.ToString());
                    break;
                }

                case FaultOpKind.Throw:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/throw?ms={op.EndpointMs}", ledger.Id, op.Cancel, op.CancelMs);
                    Record("throw", reply, ledger, op.ToString());
                    if (reply.Is2xx)
                    {
                        Violate("failed endpoint not saved", ledger.Name, $"an endpoint that threw was answered {reply} ({op})");
                    }

                    break;
                }

                case FaultOpKind.BadValue or FaultOpKind.BadValueRegenerate:
                {
                    var regenerate = op.Kind == FaultOpKind.BadValueRegenerate;
                    var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/bad-value?bytes={MaxValueBytes}&regenerate={(regenerate ? "true" : "false")}", ledger.Id, op.Cancel, op.CancelMs);
                    Record(regenerate ? "bad value + regenerate" : "bad value", reply, ledger, op.ToString());
                    CheckNoNewIdOnFailure(ledger, reply, op.ToString());
                    if (reply.Is2xx)
                    {
                        Violate("unserializable value not saved", ledger.Name, $"a write-back that cannot serialize was answered {reply} ({op})");
                    }

                    break;
                }

                case FaultOpKind.ResponseStartedEarly:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/get-required?key=w", ledger.Id, FaultCancel.None, 0, startEarly: true);
                    Record("Required, response started early", reply, ledger, op.ToString());
                    break;
                }

                case FaultOpKind.Disabled:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/disabled", ledger.Id, op.Cancel, op.CancelMs);
                    Record("disabled", reply, ledger, op.ToString());
                    break;
                }
            }
        }

        /// <summary>One increment of a session and its accounting.</summary>
        /// <param name="end">How the endpoint ends its response before the write-back (see the increment endpoint); null: after it.</param>
        private async Task<Reply> IncrementAsync(Ledger ledger, int host, int endpointMs, FaultCancel cancel, int cancelMs, string op, string? end = null)
        {
            var flush = cancel == FaultCancel.WriteBack;
            long ackedBefore;
            lock (ledger)
            {
                ackedBefore = ledger.Acked;
                if (cancel != FaultCancel.BeforeSend)
                {
                    ledger.Sent++;
                }
            }

            var reply = await SendAsync(host, HttpMethod.Post, $"/faults/rand/increment?ms={endpointMs}{(flush ? "&flush=true" : "")}{(end is null ? "" : "&end=" + end)}", ledger.Id, cancel, cancelMs);
            Record("increment" + (end is null ? "" : ", " + end) + ", cancel " + cancel, reply, ledger, op);
            Account(ledger, reply, ackedBefore, op, "increment");
            return reply;
        }

        private async Task ReadAsync(Ledger ledger, FaultOp op)
        {
            long ackedBefore;
            lock (ledger)
            {
                ackedBefore = ledger.Acked;
            }

            var reply = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", ledger.Id, op.Cancel == FaultCancel.Endpoint ? FaultCancel.Acquire : op.Cancel, op.CancelMs);
            Record("read-only, cancel " + op.Cancel, reply, ledger, op.ToString());
            if (!reply.Is2xx || !reply.Complete)
            {
                return;
            }

            var state = JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(reply.Body, Json)!;
            long sent;
            lock (ledger)
            {
                sent = ledger.Sent;
            }

            CheckState(ledger, state, ackedBefore, sent, $"read ({op})");
        }

        /// <summary>Counter + 1 and a new id in one request; the client follows the cookie only on 2xx; then an increment on the new id.</summary>
        private async Task RegenerateAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            long ackedBefore;
            lock (old)
            {
                ackedBefore = old.Acked;
                if (op.Cancel != FaultCancel.BeforeSend)
                {
                    old.Sent++;
                }
            }

            var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/regenerate-increment?ms={op.EndpointMs}", old.Id, op.Cancel, op.CancelMs);
            Record("regenerate + increment, cancel " + op.Cancel, reply, old, op.ToString());
            CheckNoNewIdOnFailure(old, reply, op.ToString());
            if (reply.Overlap is not null)
            {
                Violate("never two Required executions at once", old.Name, $"RegenerateId saw another Required request inside ({op}): {reply}");
            }

            switch (Classify(reply))
            {
                case Applied.No:
                    return;
                case Applied.Unknown:
                    // The client cannot know which id holds its session now: it gives the session up and starts a new one.
                    lock (old)
                    {
                        old.Unknown++;
                        old.Retired = true;
                    }

                    await NewSessionAsync(slot, op.Host, op + " after an unknown RegenerateId");
                    return;
            }

            if (string.IsNullOrEmpty(reply.Cookie) || reply.Cookie == old.Id)
            {
                Violate("RegenerateId", old.Name, $"RegenerateId was answered 2xx without a new session cookie ({op}): {reply}");
                return;
            }

            Ledger moved;
            lock (old)
            {
                Account(old, reply, ackedBefore, op.ToString(), "RegenerateId increment");
                old.Retired = true;
                moved = new Ledger(reply.Cookie, slot.Index, ++slot.Generations) { Acked = old.Acked, Unknown = old.Unknown, Sent = old.Sent };
                moved.Values.UnionWith(old.Values);
            }

            Add(moved);
            slot.Current = moved;

            // The counter moved with the session: one more increment on the new id, then a read that must see both.
            await IncrementAsync(moved, (op.Host + 1) % Hosts.Length, 0, FaultCancel.None, 0, op + " (after RegenerateId)");
            await ReadAsync(moved, op with { Cancel = FaultCancel.None, CancelMs = 0 });
            var gone = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", old.Id, FaultCancel.None, 0);
            Record("read of the id given up by RegenerateId", gone, old, op.ToString());
            if (gone.Is2xx && gone.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(gone.Body, Json) is { IsNew: false } stale)
            {
                Violate("RegenerateId", old.Name, $"the old id still holds a session after RegenerateId answered 2xx (counter {stale.Counter}) ({op})");
            }
        }

        /// <summary>
        /// A RegenerateId that outlives its lock: it keeps the session past the execution timeout, a second request
        /// (on the other server when there are two) force-releases it and increments. The slow request's write-back
        /// is rejected (409): then nothing of it may be stored, not under the old id (the counter shows) and not
        /// under the new id its cookie names.
        /// </summary>
        private async Task SlowRegenerateAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            long ackedBefore;
            lock (old)
            {
                ackedBefore = old.Acked;
                old.Sent++;
            }

            var slowMs = (int)(ExecutionTimeout + TimeSpan.FromMilliseconds(500)).TotalMilliseconds;
            var slow = SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/regenerate-increment?ms={slowMs}&untracked=true", old.Id, FaultCancel.None, 0);
            await Task.Delay(ExecutionTimeout - TimeSpan.FromMilliseconds(500));
            long waiterAckedBefore;
            lock (old)
            {
                waiterAckedBefore = old.Acked;
                old.Sent++;
            }

            var waiter = await SendAsync((op.Host + 1) % Hosts.Length, HttpMethod.Post, "/faults/rand/increment?ms=0", old.Id, FaultCancel.None, 0);
            var reply = await slow;
            Record("slow regenerate + increment", reply, old, op.ToString());
            Record("increment that force-releases the slow RegenerateId", waiter, old, op.ToString());
            if (reply.Is2xx)
            {
                // The slow one kept its lock after all (the waiter gave up first, e.g. the slow one had to queue): the
                // session moved; the waiter's increment may have found the old id gone. Start over rather than guess.
                lock (old)
                {
                    old.Unknown += 2;
                    old.Retired = true;
                }

                // Not an invariant: the waiter's own wait limit may end before the slow lock's age reaches the timeout.
                _output.WriteLine($"note: the slow RegenerateId kept its lock ({reply}); the request meant to force-release it: {waiter} ({op})");
                await NewSessionAsync(slot, op.Host, op + " after a slow RegenerateId");
                return;
            }

            Account(old, waiter, waiterAckedBefore, op + " (force-releases the slow RegenerateId)", "increment");
            CheckNoNewIdOnFailure(old, reply, op.ToString());
            if (Classify(reply) == Applied.Unknown)
            {
                lock (old)
                {
                    old.Unknown++;
                }
            }

            if (!string.IsNullOrEmpty(reply.Cookie) && reply.Cookie != old.Id)
            {
                var moved = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", reply.Cookie, FaultCancel.None, 0);
                Record("read of the new id of a rejected RegenerateId", moved, old, op.ToString());
                if (moved.Is2xx && moved.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(moved.Body, Json) is { IsNew: false } stored)
                {
                    Violate("RegenerateId fenced", old.Name,
                        $"a RegenerateId whose lock was force-released was answered {reply}, yet the session was stored under the new id {reply.Cookie} (counter {stored.Counter}, a copy taken before the increment that force-released it: {waiter}) ({op})");
                }
            }
        }

        /// <summary>Abandon; on 2xx the old id must be gone, and the slot starts a new session.</summary>
        private async Task AbandonAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            var reply = await SendAsync(op.Host, HttpMethod.Post, "/abandon", old.Id, op.Cancel, op.CancelMs);
            Record("abandon, cancel " + op.Cancel, reply, old, op.ToString());
            var applied = Classify(reply);
            if (applied == Applied.No)
            {
                return;
            }

            lock (old)
            {
                old.Retired = true;
            }

            if (applied == Applied.Yes)
            {
                var gone = await SendAsync((op.Host + 1) % Hosts.Length, HttpMethod.Get, "/faults/rand/state", old.Id, FaultCancel.None, 0);
                Record("read of an abandoned id", gone, old, op.ToString());
                if (gone.Is2xx && gone.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(gone.Body, Json) is { IsNew: false } stale)
                {
                    Violate("Abandon", old.Name, $"the session is still there after Abandon answered 2xx (counter {stale.Counter}) ({op})");
                }
            }

            await NewSessionAsync(slot, op.Host, op + " after Abandon");
        }

        /// <summary>Creates a session for the slot with one increment (counter 1); retried until it is answered 2xx with a cookie.</summary>
        private async Task NewSessionAsync(Slot slot, int host, string why)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var reply = await SendAsync((host + attempt) % Hosts.Length, HttpMethod.Post, "/faults/rand/increment?ms=0", null, FaultCancel.None, 0);
                Record("new session", reply);
                if (Classify(reply) == Applied.Yes && !string.IsNullOrEmpty(reply.Cookie))
                {
                    var ledger = new Ledger(reply.Cookie, slot.Index, ++slot.Generations) { Acked = 1, Sent = 1 };
                    ledger.Values.Add(1);
                    if (reply.Counter != "1")
                    {
                        Violate("counter", ledger.Name, $"a new session's first increment answered counter {reply.Counter} ({why})");
                    }

                    ledger.Note(_clock.Elapsed - reply.Elapsed, $"created ({why}): {reply}");
                    Add(ledger);
                    slot.Current = ledger;
                    return;
                }

                await Task.Delay(50);
            }

            Violate("session creation", $"slot {slot.Index}", $"no new session after 20 attempts ({why})");
            slot.Current = null;
        }

        /// <summary>A request that stores nothing: it must succeed (or fail as designed) without a cookie.</summary>
        private async Task<Reply> AnonymousAsync(int host, int variant, string op)
        {
            var forged = UnissuedSessionId();
            var (method, path, cookie, name) = variant switch
            {
                0 => (HttpMethod.Get, "/get-required?key=w", (string?)null, "anonymous Required"),
                1 => (HttpMethod.Get, "/faults/rand/state", null, "anonymous ReadOnly"),
                2 => (HttpMethod.Post, "/faults/rand/throw?ms=0", null, "anonymous throw"),
                3 => (HttpMethod.Post, $"/faults/rand/bad-value?bytes={MaxValueBytes}&regenerate=false", null, "anonymous bad value"),
                _ => (HttpMethod.Get, "/get-required?key=w", forged, "forged unknown id, Required"),
            };
            var reply = await SendAsync(host, method, path, cookie, FaultCancel.None, 0);
            Record(name, reply);
            if (reply.Is2xx && reply.Cookie is not null)
            {
                Violate("nothing stored, no cookie", name, $"a request that stores nothing was answered with a session cookie ({op}): {reply}");
            }

            if (variant is 2 or 3 && reply.Is2xx)
            {
                Violate(variant == 2 ? "failed endpoint not saved" : "unserializable value not saved", name, $"answered {reply} ({op})");
            }

            return reply;
        }

        /// <summary>A well-formed id nobody issued (24 characters of a-z0-5).</summary>
        private static string UnissuedSessionId()
        {
            const string Alphabet = "abcdefghijklmnopqrstuvwxyz012345";
            return new string(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24).Select(b => Alphabet[b % 32]).ToArray());
        }
    }
}
