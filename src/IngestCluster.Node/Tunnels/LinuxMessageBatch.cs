using System.Runtime.InteropServices;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// recvmmsg/sendmmsg (Linux, x86-64 and arm64 LP64 layouts) over preallocated native arrays: .NET has no batch
/// socket API, and one system call per packet caps a forwarder near 200 k packets/s here (docs/protocols.md, "Data plane"). The
/// arrays live in native memory for the loop's life, so a batch costs no allocation and no pinning.
/// </summary>
internal static unsafe partial class LinuxMessageBatch
{
    public const int MsgWaitForOne = 0x10000;
    public const int MsgTrunc = 0x20;
    public const int EIntr = 4;
    public const int EAgain = 11;

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

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);
}
