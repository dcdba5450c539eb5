using System.Net.Sockets;

namespace IngestCluster.Node.Native;

/// <summary>What a blocking receive thread makes of a socket error: the ones that mean the socket was closed (or
/// shut down) under it end the loop; any other (an ICMP error surfacing on the next receive, say) is passed over.</summary>
internal static class ReceiveLoopErrors
{
    public static bool SocketClosed(SocketException e) =>
        e.SocketErrorCode is SocketError.Interrupted or SocketError.OperationAborted or SocketError.Shutdown or SocketError.NotSocket;
}
