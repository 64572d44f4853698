using System.Security.Cryptography;

namespace SessionLocking;

/// <summary>
/// Classic session ids: 15 bytes (120 bits) from a cryptographic generator, written as 24 characters of
/// <c>a-z0-5</c>, 5 bits each. Stores use <see cref="IsValid"/> to check an id again before it becomes part of a key.
/// </summary>
public static class SessionIds
{
    /// <summary>The length of a session id: 24 characters.</summary>
    public const int Length = 24;
    private const int ByteCount = 15;
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz012345";

    /// <summary>A new id from the cryptographic random number generator.</summary>
    public static string Create()
    {
        return string.Create(Length, RandomNumberGenerator.GetBytes(ByteCount), static (chars, data) =>
        {
            // 15 bytes = three groups of 5 bytes = three groups of 40 bits = 8 characters each.
            var c = 0;
            for (var group = 0; group < ByteCount; group += 5)
            {
                ulong bits = 0;
                for (var i = 0; i < 5; i++)
                {
                    bits = (bits << 8) | data[group + i];
                }

                for (var shift = 35; shift >= 0; shift -= 5)
                {
                    chars[c++] = Alphabet[(int)((bits >> shift) & 0x1F)];
                }
            }
        });
    }

    /// <summary>Strict check before an id is used anywhere, above all in a store key: 24 characters of <c>a-z0-5</c>.</summary>
    /// <param name="id">The id to check.</param>
    public static bool IsValid(string? id)
    {
        if (id is null || id.Length != Length)
        {
            return false;
        }

        foreach (var ch in id)
        {
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '5')))
            {
                return false;
            }
        }

        return true;
    }
}
