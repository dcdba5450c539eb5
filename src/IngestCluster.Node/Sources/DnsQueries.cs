using System.Net.Sockets;
using DnsClient;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.Node.Sources;

/// <summary>
/// One DNS query as DRIAD and DORMS discovery both need it: an answer, or a sentence saying why there is none
/// (a server error, a timeout, an unreachable server). NXDOMAIN is an answer (no record), not a failure. Never
/// throws for what a DNS server or the network does.
/// </summary>
public static class DnsQueries
{
    public static async Task<(IDnsQueryResponse? Response, string? Failure)> QueryAsync(
        IDnsQuery dns, string name, QueryType type, CancellationToken cancellationToken)
    {
        try
        {
            var response = await dns.QueryAsync(name, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
            var code = response.Header.ResponseCode;
            if (code is not (DnsHeaderResponseCode.NoError or DnsHeaderResponseCode.NotExistentDomain))
            {
                return (null, $"{name} {TypeName(type)}: {response.ErrorMessage}");
            }
            return (response, null);
        }
        catch (DnsResponseException e)
        {
            return (null, $"{name} {TypeName(type)}: {e.DnsError}: {e.Message}");
        }
        catch (SocketException e)
        {
            return (null, $"{name} {TypeName(type)}: {e.SocketErrorCode}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{name} {TypeName(type)}: timed out");
        }
    }

    /// <summary>The record type's name; DnsClient has none for AMTRELAY (260).</summary>
    public static string TypeName(QueryType type) => (int)type == AmtRelayRecord.RecordType ? "AMTRELAY" : type.ToString();
}
