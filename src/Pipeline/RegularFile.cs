using System.Runtime.InteropServices;

namespace Distil.Pipeline;

/// <summary>
/// Refuses, without opening it, a path that is not a regular file: opening a FIFO that nobody writes blocks
/// forever, and a device or socket is never a dataset. .NET has no public call for a file's type on Unix, so
/// this asks the runtime's own native shim (System.Native's stat, whose result starts with flags then mode).
/// </summary>
public static class RegularFile
{
    private const int TypeMask = 0xF000;
    private const int Regular = 0x8000;
    private const int Directory = 0x4000;

    /// <summary>Null when <paramref name="path"/> is a regular file (following links), else what it is, in words.</summary>
    public static string? Problem(string path)
    {
        if (System.IO.Directory.Exists(path))
        {
            return "is a folder, not a file";
        }

        if (!File.Exists(path))
        {
            return "does not exist";
        }

        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            var status = new int[64]; // FileStatus is smaller; its first two fields are Flags and Mode.
            if (Stat(path, ref status[0]) != 0)
            {
                return null; // let the open report the error in its own words
            }

            return (status[1] & TypeMask) switch
            {
                Regular => null,
                Directory => "is a folder, not a file",
                0x1000 => "is a FIFO (named pipe), not a regular file; Distil reads files it can seek and hash, so copy the data to a file",
                0x2000 or 0x6000 => "is a device, not a regular file",
                0xC000 => "is a socket, not a regular file",
                _ => "is not a regular file",
            };
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, ref int output);
}
