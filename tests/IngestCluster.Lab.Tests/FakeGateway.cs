using IngestCluster.Lab.Topology;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// An AMT gateway just smart enough to drive the lab relay, built on our codecs: one UDP socket (created in the
/// gateway's namespace), a receive thread that sorts what arrives into control messages and Multicast Data.
/// </summary>
internal sealed class FakeGateway : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _relay;
    private readonly BlockingCollection<byte[]> _control = [];
    private readonly BlockingCollection<byte[]> _data = [];
    private readonly Thread _receiver;
    private volatile bool _stopping;

    public FakeGateway(NamespaceThread ns, IPAddress localAddress, IPEndPoint relay)
    {
        _relay = relay;
        _socket = ns.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(localAddress, 0));
            return s;
        });
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = "fake-gateway" };
        _receiver.Start();
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public string Name => LocalEndPoint.ToString();

    public int DataReceived => _data.Count;

    public static uint NewNonce() => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(RandomNumberGenerator.GetBytes(4));

    public void Send(byte[] message) => _socket.SendTo(message, _relay);

    public void SendDiscovery(uint nonce)
    {
        var message = new byte[new AmtRelayDiscovery(nonce).Length];
        new AmtRelayDiscovery(nonce).Write(message);
        Send(message);
    }

    public void SendRequest(uint nonce)
    {
        var request = new AmtRequest(nonce, MldRequested: false);
        var message = new byte[request.Length];
        request.Write(message);
        Send(message);
    }

    public void SendUpdate(ulong mac, uint nonce, params IgmpV3GroupRecord[] records)
    {
        var report = new IgmpV3Report(records);
        var datagram = new byte[IgmpV3Datagram.ReportLength(report)];
        IgmpV3Datagram.WriteReport(datagram, 0, report);
        var update = new AmtMembershipUpdate(mac, nonce, datagram);
        var message = new byte[update.Length];
        update.Write(message);
        Send(message);
    }

    /// <summary>The next control message (not Multicast Data), or a timeout.</summary>
    public byte[] ReceiveControl(TimeSpan timeout) =>
        _control.TryTake(out var message, timeout) ? message : throw new TimeoutException($"gateway {Name}: no control message within {timeout}");

    /// <summary>The next Multicast Data message, or null when none came within <paramref name="timeout"/>.</summary>
    public byte[]? ReceiveData(TimeSpan timeout) => _data.TryTake(out var message, timeout) ? message : null;

    /// <summary>Discards queued data; true once no data message has arrived for <paramref name="quiet"/>, false if
    /// data kept coming until <paramref name="deadline"/>.</summary>
    public bool WaitForDataToStop(TimeSpan quiet, TimeSpan deadline)
    {
        var end = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < end)
        {
            if (!_data.TryTake(out _, quiet))
            {
                return true;
            }
        }
        return false;
    }

    private void ReceiveLoop()
    {
        var buffer = new byte[65536];
        while (!_stopping)
        {
            try
            {
                if (!_socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
                {
                    continue;
                }
                var length = _socket.Receive(buffer);
                var message = buffer.AsSpan(0, length).ToArray();
                (length > 0 && message[0] == (byte)AmtMessageType.MulticastData ? _data : _control).Add(message);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _receiver.Join();
        _socket.Dispose();
        _control.Dispose();
        _data.Dispose();
    }
}
