using System.Globalization;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Faults;

// The invariants: how a reply is accounted in its session's ledger, and every check that records a violation.
public sealed partial class RandomizedFaultTests
{
    private sealed partial class FaultRun
    {
        private void Account(Ledger ledger, Reply reply, long ackedBefore, string op, string what)
        {
            if (reply.Overlap is not null)
            {
                Violate("never two Required executions at once", ledger.Name, $"the {what} saw another Required request of its session inside the endpoint ({op}): {reply}");
            }

            var applied = Classify(reply);
            if (applied == Applied.Yes && reply.Cookie is not null && reply.Cookie != ledger.Id && what == "increment")
            {
                Violate("session never lost", ledger.Name, $"an increment was answered with a new session's cookie: the session was not found ({op}): {reply}");
                return;
            }

            lock (ledger)
            {
                switch (applied)
                {
                    case Applied.Yes:
                        ledger.Acked++;
                        if (!int.TryParse(reply.Counter, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                        {
                            Violate("counter", ledger.Name, $"the {what} answered 2xx without a counter ({op}): {reply}");
                            return;
                        }

                        if (value <= ackedBefore)
                        {
                            Violate("counter", ledger.Name, $"lost update: the {what} answered 2xx with counter {value}, but {ackedBefore} increments were answered 2xx before it was sent ({op})");
                        }

                        if (value > ledger.Sent)
                        {
                            Violate("counter", ledger.Name, $"phantom update: the {what} answered 2xx with counter {value}, but only {ledger.Sent} increments were ever sent ({op})");
                        }

                        if (!ledger.Values.Add(value))
                        {
                            Violate("counter", ledger.Name, $"lost update: two increments were answered 2xx with the same counter {value} ({op})");
                        }

                        break;
                    case Applied.Unknown:
                        ledger.Unknown++;
                        break;
                }
            }
        }

        /// <summary>An increment answered 2xx counted; 409/429/503 or never sent did not; a 500 or a client that left may have.</summary>
        private static Applied Classify(Reply reply) =>
            !reply.Sent ? Applied.No
            : reply.Is2xx ? (reply.Complete ? Applied.Yes : Applied.Unknown)
            : reply.Status is 409 or 429 or 503 ? Applied.No
            : Applied.Unknown;

        private void CheckState(Ledger ledger, FaultEndpoints.RandomizedStateView state, long atLeast, long atMost, string when)
        {
            if (state.IsNew)
            {
                Violate("session never lost", ledger.Name, $"a ReadOnly view {when} found no session (new): counter {state.Counter}, {atLeast} increments acknowledged");
                return;
            }

            if (state.Poison)
            {
                Violate("failed endpoint not saved", ledger.Name, $"a change made by an endpoint that threw was saved (seen {when})");
            }

            if (state.Bag)
            {
                Violate("unserializable value not saved", ledger.Name, $"an item whose write-back failed to serialize was saved (seen {when})");
            }

            if (state.Counter < atLeast)
            {
                Violate("counter", ledger.Name, $"lost update: counter {state.Counter} {when}, but {atLeast} increments were answered 2xx");
            }
            else if (state.Counter > atMost)
            {
                Violate("counter", ledger.Name, $"phantom update: counter {state.Counter} {when}, more than the {atMost} increments that were answered 2xx or may have applied");
            }
        }

        /// <summary>
        /// A RegenerateId that failed (non-2xx) stored nothing under its new id, so its answer must not hand that id
        /// out: a browser follows a cookie whatever the status, and would leave its session.
        /// </summary>
        private void CheckNoNewIdOnFailure(Ledger ledger, Reply reply, string op)
        {
            if (reply.Status is { } status && !reply.Is2xx && !string.IsNullOrEmpty(reply.Cookie) && reply.Cookie != ledger.Id)
            {
                Violate("failed RegenerateId hands out no new id", ledger.Name,
                    $"a RegenerateId answered {status} carries a session cookie for the new id {reply.Cookie} ({op}): {reply}");
            }
        }

        private void Violate(string invariant, string session, string detail) =>
            _violations.Enqueue(new Violation(invariant, session, detail, _seed, _store));
    }
}
