using System.Net;
using System.Net.Sockets;

namespace SessionLocking.TestUtilities;

/// <summary>Free loopback ports for the servers tests and benchmarks start (the OS picks one, then it is released).</summary>
public static class FreePorts
{
    /// <summary>
    /// A port free on loopback now. With <paramref name="withClusterBus"/>, also its cluster-bus port (port + 10000,
    /// which a Redis Cluster node opens too) is free. Ports in <paramref name="exclude"/> are skipped (ones already
    /// given to servers that have not bound them yet).
    /// </summary>
    public static int Next(bool withClusterBus = false, IReadOnlySet<int>? exclude = null)
    {
        while (true)
        {
            var port = Bind(0);
            if (exclude?.Contains(port) == true)
            {
                continue;
            }

            if (!withClusterBus)
            {
                return port;
            }

            if (port + 10000 > 65535)
            {
                continue;
            }

            try
            {
                Bind(port + 10000);
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    private static int Bind(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        var bound = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return bound;
    }
}
