using System.Buffers.Binary;
using System.Globalization;
using IngestCluster.Admin.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using SharpPcap;
using SharpPcap.LibPcap;

namespace IngestCluster.Node.Admin;

/// <summary>
/// <c>POST /api/capture</c> (<see cref="CaptureRequest"/>): the node captures on one of its own interfaces with libpcap
/// (SharpPcap) for a few seconds, through the BPF filter of one traffic kind, and answers with the pcap file. It is
/// bounded in time (<see cref="MaxSeconds"/>) and in size (<c>Admin:Capture:MaxBytes</c>, 16 MiB by default): the
/// capture ends at whichever comes first, and the answer says which (<c>X-Capture-Ended</c>). One capture runs at a
/// time (409 otherwise). Like every admin request but the page and the probes it needs the bearer token when
/// <c>Admin:Token</c> is set (<see cref="AdminEndpoints.RequireToken"/>). Capturing needs CAP_NET_RAW, which the node
/// has for PIM and egress anyway.
/// </summary>
public static class CaptureEndpoints
{
    public const int MaxSeconds = 60;
    public const string MaxBytesKey = "Admin:Capture:MaxBytes";
    public const long DefaultMaxBytes = 16L * 1024 * 1024;
    public const string PcapMediaType = "application/vnd.tcpdump.pcap";

    /// <summary>Packets captured, and why the capture ended: <c>time</c>, <c>size</c> or <c>client</c> (the
    /// request was aborted).</summary>
    public const string PacketsHeader = "X-Capture-Packets";
    public const string EndedHeader = "X-Capture-Ended";

    private const int Snaplen = 65535;
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    /// <summary>The BPF filter of each kind. <c>data</c> is the native multicast the node forwards and AMT carries:
    /// UDP to a multicast group, but not AMT's own port, which is <c>amt</c>.</summary>
    public static IReadOnlyDictionary<string, string> Filters { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["pim"] = "ip proto 103",
        ["amt"] = "udp port 2268",
        ["data"] = "ip multicast and udp and not udp port 2268",
    };

    public static WebApplication MapCaptureAdmin(this WebApplication app)
    {
        long maxBytes = ReadMaxBytes(app.Configuration);
        app.MapPost(AdminRoutes.Capture, (Delegate)((HttpContext context) => CaptureAsync(context, maxBytes)));
        return app;
    }

    /// <summary>Reads <c>Admin:Capture:MaxBytes</c>: a whole number of bytes, 1 KiB to 1 GiB.</summary>
    public static long ReadMaxBytes(IConfiguration configuration)
    {
        string? text = configuration[MaxBytesKey];
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultMaxBytes;
        }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) || bytes is < 1024 or > 1L << 30)
        {
            throw new InvalidOperationException($"{MaxBytesKey}: '{text}' is not a size in bytes from 1024 to 1073741824 (the default is {DefaultMaxBytes})");
        }
        return bytes;
    }

    /// <summary>Checks a request; null when it is good, else the reason and the status to answer with.</summary>
    public static (int Status, string Error)? Validate(CaptureRequest? request, IReadOnlyCollection<string> interfaces)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.Interface) || request.Filter is null)
        {
            return (StatusCodes.Status400BadRequest, "expected {\"interface\": \"eth1\", \"seconds\": 5, \"filter\": \"pim|amt|data\"}");
        }
        if (!Filters.ContainsKey(request.Filter))
        {
            return (StatusCodes.Status400BadRequest, $"filter '{request.Filter}': expected pim, amt or data");
        }
        if (request.Seconds is < 1 or > MaxSeconds)
        {
            return (StatusCodes.Status400BadRequest, $"seconds {request.Seconds}: expected 1 to {MaxSeconds}");
        }
        if (!interfaces.Contains(request.Interface))
        {
            return (StatusCodes.Status404NotFound,
                $"no interface '{request.Interface}' on this node to capture on; it has: {string.Join(", ", interfaces.Order(StringComparer.Ordinal))}");
        }
        return null;
    }

    private static async Task<IResult> CaptureAsync(HttpContext context, long maxBytes)
    {
        CaptureRequest? request;
        try
        {
            request = await context.Request.ReadFromJsonAsync(AdminJson.Default.CaptureRequest, context.RequestAborted);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            request = null;
        }

        LibPcapLiveDeviceList devices;
        try
        {
            devices = LibPcapLiveDeviceList.New();
        }
        catch (Exception e) when (e is DllNotFoundException or PcapException or TypeInitializationException)
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, $"capture: libpcap is not usable on this node ({e.GetBaseException().Message}); install libpcap0.8");
        }
        if (Validate(request, [.. devices.Select(d => d.Name)]) is { } invalid)
        {
            return Refuse(invalid.Status, $"capture: {invalid.Error}");
        }
        if (!await OneAtATime.WaitAsync(0))
        {
            return Refuse(StatusCodes.Status409Conflict, "capture: another capture is running on this node; try again when it ends");
        }
        try
        {
            var device = devices.First(d => d.Name == request!.Interface);
            var result = await Task.Run(() => Capture(device, Filters[request!.Filter], TimeSpan.FromSeconds(request.Seconds), maxBytes, context.RequestAborted));
            if (result.Error is { } error)
            {
                return Refuse(StatusCodes.Status503ServiceUnavailable, $"capture: on {request!.Interface}: {error}");
            }
            context.Response.Headers[PacketsHeader] = result.Packets.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers[EndedHeader] = result.Ended;
            return Results.File(result.Pcap, PcapMediaType,
                $"{request!.Interface}-{request.Filter}-{DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.pcap");
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    private static IResult Refuse(int status, string error) =>
        Results.Json(new AdminError(error), AdminJson.Default.AdminError, statusCode: status);

    private sealed record Captured(byte[] Pcap, int Packets, string Ended, string? Error);

    /// <summary>Blocking: reads packets until the time is up, the file would pass <paramref name="maxBytes"/>, or the
    /// client goes away. Runs on a pool thread, never in an actor.</summary>
    private static Captured Capture(LibPcapLiveDevice device, string filter, TimeSpan duration, long maxBytes, CancellationToken aborted)
    {
        try
        {
            device.Open(new DeviceConfiguration { Mode = DeviceModes.None, ReadTimeout = 100, Snaplen = Snaplen, Immediate = true });
        }
        catch (Exception e) when (e is PcapException or DeviceNotReadyException)
        {
            return new Captured([], 0, "error", $"cannot open it ({e.Message}); the node needs CAP_NET_RAW");
        }
        try
        {
            try
            {
                device.Filter = filter;
            }
            catch (PcapException e)
            {
                return new Captured([], 0, "error", $"filter '{filter}' refused ({e.Message})");
            }
            using var pcap = new MemoryStream();
            PcapFile.WriteHeader(pcap, (uint)device.LinkType, Snaplen);
            int packets = 0;
            string ended = "time";
            var deadline = DateTime.UtcNow + duration;
            while (DateTime.UtcNow < deadline)
            {
                if (aborted.IsCancellationRequested)
                {
                    ended = "client";
                    break;
                }
                var status = device.GetNextPacket(out PacketCapture packet);
                if (status == GetPacketStatus.Error)
                {
                    return new Captured([], 0, "error", $"reading failed ({device.LastError})");
                }
                if (status != GetPacketStatus.PacketRead)
                {
                    continue; // the 100 ms read timeout: look at the clock again
                }
                var data = packet.Data;
                if (pcap.Length + PcapFile.RecordHeaderLength + data.Length > maxBytes)
                {
                    ended = "size";
                    break;
                }
                var time = packet.Header.Timeval;
                PcapFile.WriteRecord(pcap, (uint)time.Seconds, (uint)time.MicroSeconds, data, data.Length);
                packets++;
            }
            return new Captured(pcap.ToArray(), packets, ended, null);
        }
        finally
        {
            device.Close();
        }
    }
}

/// <summary>
/// The classic pcap file format (what tcpdump -w writes), microsecond timestamps, little-endian (readers tell the
/// byte order from the magic number). Global header, 24 bytes:
/// <code>
/// magic 0xa1b2c3d4 (4) | major 2 (2) | minor 4 (2) | thiszone 0 (4) | sigfigs 0 (4) | snaplen (4) | link type (4)
/// </code>
/// then per packet, 16 bytes and the data: seconds (4) | microseconds (4) | captured length (4) | original length (4).
/// </summary>
public static class PcapFile
{
    public const int HeaderLength = 24;
    public const int RecordHeaderLength = 16;
    public const uint Magic = 0xa1b2c3d4;

    public static void WriteHeader(Stream output, uint linkType, int snaplen)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], snaplen);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], linkType);
        output.Write(header);
    }

    public static void WriteRecord(Stream output, uint seconds, uint microseconds, ReadOnlySpan<byte> data, int originalLength)
    {
        Span<byte> header = stackalloc byte[RecordHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], microseconds);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], data.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], originalLength);
        output.Write(header);
        output.Write(data);
    }
}
