namespace SessionLocking.Tests.Faults;

/// <summary>What one operation of the randomized fault test does.</summary>
internal enum FaultOpKind
{
    /// <summary>
    /// Required read-modify-write of the counter (tracked as a writer). Variant 1 ends its response with
    /// <c>CompleteAsync</c>, variant 2 starts a 204, both before the write-back; 0 answers after it.
    /// </summary>
    Increment,

    /// <summary>ReadOnly view of the counter; checked against the increments answered so far.</summary>
    Read,

    /// <summary>Required request that changes nothing.</summary>
    RequiredRead,

    /// <summary>Required endpoint that changes the session and then throws: nothing may be saved.</summary>
    Throw,

    /// <summary>Counter + 1 and RegenerateId in one request, then an increment on the new id (a barrier on the session).</summary>
    RegenerateIncrement,

    /// <summary>
    /// A RegenerateId (with an increment) that outlives its lock: a second request force-releases it after the
    /// execution timeout and increments; the slow one must then change nothing, under either id (a barrier on the
    /// session). Two per plan, placed, not drawn: each takes longer than the execution timeout.
    /// </summary>
    SlowRegenerate,

    /// <summary>Abandon; the session starts over (a barrier on the session).</summary>
    Abandon,

    /// <summary>A value that cannot be serialized at write-back: 500, nothing saved, lock released.</summary>
    BadValue,

    /// <summary>The same, with RegenerateId: the move to the new id fails to serialize; nothing saved, lock released.</summary>
    BadValueRegenerate,

    /// <summary>
    /// A Required request whose response an earlier middleware of the application has already started (a streaming
    /// prologue): the session middleware cannot register its cookie callback; whatever it answers, the lock must not stay.
    /// </summary>
    ResponseStartedEarly,

    /// <summary>A Disabled request carrying the session's cookie (keep-alive only).</summary>
    Disabled,

    /// <summary>A request without a usable cookie that stores nothing (Required, ReadOnly, failing, unserializable, forged id).</summary>
    Anonymous,
}

/// <summary>Where the client gives up.</summary>
internal enum FaultCancel
{
    None,

    /// <summary>The token is cancelled before the request is sent: it never reaches the server.</summary>
    BeforeSend,

    /// <summary>A few milliseconds after sending: while the lock is being taken (longer under CLIENT PAUSE).</summary>
    Acquire,

    /// <summary>Queued behind a slow holder of the same session, cancelled before the holder finishes.</summary>
    Waiting,

    /// <summary>During a slow endpoint.</summary>
    Endpoint,

    /// <summary>The endpoint flushes its body first; the client leaves right after the response headers, during the write-back.</summary>
    WriteBack,
}

/// <param name="Index">Position in the plan.</param>
/// <param name="Slot">The logical session (its id changes with RegenerateId and Abandon).</param>
/// <param name="Host">Which server gets the request.</param>
/// <param name="Kind">What the operation does.</param>
/// <param name="Cancel">Where the client gives up.</param>
/// <param name="EndpointMs">Work inside the endpoint.</param>
/// <param name="CancelMs">When the client gives up, after sending (Acquire, Waiting, Endpoint).</param>
/// <param name="HolderMs">For Waiting: how long the slow holder in front keeps the lock.</param>
/// <param name="Variant">Kind-specific choice (Anonymous: which request).</param>
internal sealed record FaultOp(int Index, int Slot, int Host, FaultOpKind Kind, FaultCancel Cancel, int EndpointMs, int CancelMs, int HolderMs, int Variant)
{
    public override string ToString() =>
        $"op #{Index} {Kind}{(Variant != 0 ? "/" + Variant : "")} slot {Slot} host {Host} cancel {Cancel}" +
        (EndpointMs > 0 ? $" endpoint {EndpointMs} ms" : "") + (CancelMs > 0 ? $" cancel at {CancelMs} ms" : "") + (HolderMs > 0 ? $" holder {HolderMs} ms" : "");
}

/// <summary>The whole sequence of operations, generated from the seed alone (the interleaving of concurrent lanes is not).</summary>
internal static class FaultPlan
{
    public const int AnonymousVariants = 5;

    /// <summary>Where the two slow RegenerateIds go: early in one stretch between quiet points, so they overlap.</summary>
    private static readonly int[] SlowRegeneratePositions = [260, 270];

    private static readonly (FaultOpKind Kind, int Weight)[] Weights =
    [
        (FaultOpKind.Increment, 44),
        (FaultOpKind.Read, 14),
        (FaultOpKind.RequiredRead, 6),
        (FaultOpKind.Throw, 6),
        (FaultOpKind.RegenerateIncrement, 5),
        (FaultOpKind.Abandon, 3),
        (FaultOpKind.BadValue, 2),
        (FaultOpKind.BadValueRegenerate, 1),
        (FaultOpKind.ResponseStartedEarly, 1),
        (FaultOpKind.Disabled, 8),
        (FaultOpKind.Anonymous, 10),
    ];

    /// <param name="skipped">Kinds left out of the plan (diagnosis only).</param>
    /// <param name="uncancelled">Cancellation points replaced by none (diagnosis only).</param>
    public static IReadOnlyList<FaultOp> Generate(int seed, int count, int slots, int hosts, IReadOnlySet<FaultOpKind> skipped, IReadOnlySet<FaultCancel> uncancelled)
    {
        var random = new Random(seed);
        var weights = Weights.Where(w => !skipped.Contains(w.Kind)).ToArray();
        if (weights.Length == 0)
        {
            throw new InvalidOperationException("Every operation kind is skipped.");
        }

        var total = weights.Sum(w => w.Weight);
        var plan = new List<FaultOp>(count);
        for (var i = 0; i < count; i++)
        {
            var roll = random.Next(total);
            var kind = weights[0].Kind;
            foreach (var (k, weight) in weights)
            {
                if (roll < weight)
                {
                    kind = k;
                    break;
                }

                roll -= weight;
            }

            var slot = random.Next(slots);
            var host = random.Next(hosts);
            var op = kind switch
            {
                FaultOpKind.Increment => Increment(i, slot, host, random),
                FaultOpKind.Throw => WithCancel(i, slot, host, kind, random, allowWaiting: false),
                FaultOpKind.RequiredRead or FaultOpKind.Read => WithCancel(i, slot, host, kind, random, allowWaiting: false),
                FaultOpKind.RegenerateIncrement or FaultOpKind.Abandon => WithCancel(i, slot, host, kind, random, allowWaiting: false),
                FaultOpKind.BadValue or FaultOpKind.BadValueRegenerate => WithCancel(i, slot, host, kind, random, allowWaiting: false),
                FaultOpKind.ResponseStartedEarly => new FaultOp(i, slot, host, kind, FaultCancel.None, 0, 0, 0, 0),
                FaultOpKind.Disabled => new FaultOp(i, slot, host, kind, random.Next(5) == 0 ? FaultCancel.Acquire : FaultCancel.None, 0, random.Next(1, 6), 0, 0),
                _ => new FaultOp(i, slot, host, kind, FaultCancel.None, 0, 0, 0, random.Next(AnonymousVariants)),
            };
            plan.Add(uncancelled.Contains(op.Cancel) ? op with { Cancel = FaultCancel.None, CancelMs = 0, HolderMs = 0 } : op);
        }

        foreach (var index in SlowRegeneratePositions.Where(i => i < count && !skipped.Contains(FaultOpKind.SlowRegenerate)))
        {
            // On different sessions (slow ones on one session would run one after the other).
            var slot = (SlowRegeneratePositions[0] + (index - SlowRegeneratePositions[0] == 0 ? 0 : 1) + seed) % slots;
            slot = slot < 0 ? slot + slots : slot;
            plan[index] = plan[index] with { Kind = FaultOpKind.SlowRegenerate, Slot = slot, Cancel = FaultCancel.None, EndpointMs = 0, CancelMs = 0, HolderMs = 0, Variant = 0 };
        }

        return plan;
    }

    private static FaultOp Increment(int index, int slot, int host, Random random)
    {
        var roll = random.Next(100);
        return roll switch
        {
            < 50 => new FaultOp(index, slot, host, FaultOpKind.Increment, FaultCancel.None, random.Next(0, 16), 0, 0, random.Next(5) switch { 0 => 1, 1 => 2, _ => 0 }),
            < 58 => new FaultOp(index, slot, host, FaultOpKind.Increment, FaultCancel.BeforeSend, random.Next(0, 16), 0, 0, 0),
            < 70 => new FaultOp(index, slot, host, FaultOpKind.Increment, FaultCancel.Acquire, random.Next(0, 16), random.Next(1, 13), 0, 0),
            < 80 => Waiting(index, slot, host, FaultOpKind.Increment, random),
            < 90 => Endpoint(index, slot, host, FaultOpKind.Increment, random),
            _ => new FaultOp(index, slot, host, FaultOpKind.Increment, FaultCancel.WriteBack, random.Next(0, 6), 0, 0, 0),
        };
    }

    private static FaultOp WithCancel(int index, int slot, int host, FaultOpKind kind, Random random, bool allowWaiting)
    {
        var roll = random.Next(100);
        return roll switch
        {
            < 65 => new FaultOp(index, slot, host, kind, FaultCancel.None, random.Next(0, 16), 0, 0, 0),
            < 72 => new FaultOp(index, slot, host, kind, FaultCancel.BeforeSend, random.Next(0, 16), 0, 0, 0),
            < 86 => new FaultOp(index, slot, host, kind, FaultCancel.Acquire, random.Next(0, 16), random.Next(1, 13), 0, 0),
            _ when allowWaiting && roll < 93 => Waiting(index, slot, host, kind, random),
            _ => Endpoint(index, slot, host, kind, random),
        };
    }

    private static FaultOp Waiting(int index, int slot, int host, FaultOpKind kind, Random random)
    {
        var holder = random.Next(120, 260);
        return new FaultOp(index, slot, host, kind, FaultCancel.Waiting, 0, random.Next(15, holder - 60), holder, 0);
    }

    private static FaultOp Endpoint(int index, int slot, int host, FaultOpKind kind, Random random)
    {
        var ms = random.Next(60, 200);
        return new FaultOp(index, slot, host, kind, FaultCancel.Endpoint, ms, random.Next(15, ms - 15), 0, 0);
    }
}
