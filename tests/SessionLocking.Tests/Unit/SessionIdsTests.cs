namespace SessionLocking.Tests.Unit;

public class SessionIdsTests
{
    [Fact]
    public void Ids_are_24_characters_of_the_classic_alphabet_and_unique()
    {
        var ids = Enumerable.Range(0, 20_000).Select(_ => SessionIds.Create()).ToArray();

        Assert.All(ids, id => Assert.Matches("^[a-z0-5]{24}$", id));
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }

    [Fact]
    public void Every_character_position_uses_the_whole_alphabet()
    {
        // 120 random bits = 24 characters of 5 bits: each position must see all 32 symbols.
        var ids = Enumerable.Range(0, 5_000).Select(_ => SessionIds.Create()).ToArray();
        for (var position = 0; position < 24; position++)
        {
            Assert.Equal(32, ids.Select(id => id[position]).Distinct().Count());
        }
    }

    [Theory]
    [InlineData("abcdefghijklmnopqrstuvwx", true)]
    [InlineData("012345abcdefghijklmnopqr", true)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("abcdefghijklmnopqrstuvw", false)]
    [InlineData("abcdefghijklmnopqrstuvwxy", false)]
    [InlineData("abcdefghijklmnopqrstuvw6", false)]
    [InlineData("Abcdefghijklmnopqrstuvwx", false)]
    [InlineData("abcdefghijklmnopqrstuvw}", false)]
    [InlineData("abcdefghijklmnopqrstuvw\u00e9", false)]
    public void Validation_is_strict(string? id, bool valid) => Assert.Equal(valid, SessionIds.IsValid(id));
}
