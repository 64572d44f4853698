using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>What every lock owner uses to end its lock: the (instrumented) store, its log and the meter.</summary>
internal sealed record LockTools(InstrumentedSessionStateStore Store, ILogger Logger, SessionLockingMetrics Metrics);
