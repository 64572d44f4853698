using System.Diagnostics.Metrics;
using SessionLocking.Diagnostics;

namespace SessionLocking.Redis;

/// <summary>The instruments of both Redis stores, on the middleware's meter (they stand beside its instruments).</summary>
internal static class RedisStoreInstruments
{
    /// <summary>The middleware's meter name (one place for every name: <see cref="SessionLockingTelemetry"/>).</summary>
    public const string MeterName = SessionLockingTelemetry.MeterName;

    /// <summary>The counter of locks taken by abandoned acquires and released by the store.</summary>
    public const string AbandonedReleasedCounter = SessionLockingTelemetry.AbandonedLocksReleased;

    /// <summary>The counter of durable writes the primary applied but too few replicas acknowledged in time.</summary>
    public const string ReplicaAckFailedCounter = SessionLockingTelemetry.ReplicaAckFailed;

    /// <summary>The abandoned-lock counter, or null without a meter factory.</summary>
    public static Counter<long>? AbandonedReleased(IMeterFactory? meterFactory) =>
        meterFactory?.Create(MeterName).CreateCounter<long>(
            AbandonedReleasedCounter,
            "{lock}",
            "Locks taken by a store call whose caller had stopped waiting for it (the client left, or the store gave up at its own timeout), released as soon as the store answered.");

    /// <summary>The replica-acknowledgement counter, or null without a meter factory or durable writes.</summary>
    public static Counter<long>? ReplicaAckFailed(IMeterFactory? meterFactory, int minReplicas) =>
        minReplicas == 0 ? null : meterFactory?.Create(MeterName).CreateCounter<long>(
            ReplicaAckFailedCounter,
            "{write}",
            "Writes (write-backs, abandons, lock acquisitions) the Redis primary applied but fewer replicas than MinReplicasAcknowledged acknowledged in time; each was reported as failed.");
}
