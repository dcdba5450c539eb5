using System.Runtime.InteropServices;

namespace IngestCluster.Node.Native;

/// <summary>
/// The Linux system calls the data plane makes that .NET has no API for: recvmmsg/sendmmsg (one call for a batch of
/// datagrams; one call per packet caps a forwarder near 200 k packets/s here, docs/benchmarks.md, "Data plane"),
/// epoll (one thread serves many sockets) and eventfd (to wake it). Layouts are the LP64 ones (x86-64, arm64). Shared
/// by Tunnels (receive) and Egress (send), so it lives in neither.
/// </summary>
internal static unsafe partial class LinuxSockets
{
    public const int MsgDontWait = 0x40;
    public const int MsgTrunc = 0x20;
    public const int MsgCTrunc = 0x08;
    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int ENoent = 2;

    public const int SolSocket = 1;
    public const int SoBindToDevice = 25;
    public const int SoRcvBufForce = 33;
    public const int SolUdp = 17;
    /// <summary>UDP_GRO: the kernel may hand over several datagrams of one flow concatenated, with a cmsg
    /// (SOL_UDP, UDP_GRO, int) giving the size of each but the last.</summary>
    public const int UdpGro = 104;

    public const int EpollCloExec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const uint EpollIn = 0x001;
    public const uint EpollHup = 0x010;
    public const int EfdCloExec = 0x80000;
    public const int EfdNonBlock = 0x800;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct cmsghdr: length (size_t), level, type, then the data, aligned to 8.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned on arm64 (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEventPacked
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEventAligned
    {
        public uint Events;
        public ulong Data;
    }

    public static bool EpollEventIsPacked => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static int EpollEventSize => EpollEventIsPacked ? sizeof(EpollEventPacked) : sizeof(EpollEventAligned);

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, void* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    public const int AfPacket = 17;
    public const int SockDgram = 2;
    public const int SockCloExec = 0x80000;
    public const int SiocGIfHwAddr = 0x8927;
    public const ushort ArphrdEther = 1;
    /// <summary>sizeof(struct sockaddr_ll).</summary>
    public const int SockAddrLlLength = 20;
    /// <summary>sizeof(struct ifreq).</summary>
    public const int IfReqLength = 40;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    public static partial nint SendTo(int fd, void* buffer, nuint length, int flags, void* address, uint addressLength);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);

    /// <summary>Writes an epoll_event for <paramref name="events"/> and <paramref name="data"/> at <paramref name="at"/>.</summary>
    public static void WriteEpollEvent(byte* at, uint events, ulong data)
    {
        if (EpollEventIsPacked)
        {
            *(EpollEventPacked*)at = new EpollEventPacked { Events = events, Data = data };
        }
        else
        {
            *(EpollEventAligned*)at = new EpollEventAligned { Events = events, Data = data };
        }
    }

    public static uint ReadEpollEvents(byte* events, int index) => EpollEventIsPacked
        ? ((EpollEventPacked*)events)[index].Events
        : ((EpollEventAligned*)events)[index].Events;

    public static ulong ReadEpollData(byte* events, int index) => EpollEventIsPacked
        ? ((EpollEventPacked*)events)[index].Data
        : ((EpollEventAligned*)events)[index].Data;
}
