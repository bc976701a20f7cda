package recording

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// sealed seals parts, flushing after each, and returns the file.
func sealed(t testing.TB, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newSealWriter(nopCloser{&buf}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(b []byte, key []byte) ([]byte, error) {
	r, err := OpenSealed(bytes.NewReader(b), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestSealRoundTripAndSize(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), sealChunkSize/8+3) // spans chunks
	parts := [][]byte{[]byte("hello "), big, nil, []byte("end")}
	file := sealed(t, parts...)
	got, err := open(file, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Join(parts, nil); !bytes.Equal(got, want) {
		t.Fatalf("round trip: %d bytes, want %d", len(got), len(want))
	}
	size, err := SealedSize(bytes.NewReader(file))
	if err != nil || size != int64(len(got)) {
		t.Fatalf("SealedSize = %d, %v; want %d", size, err, len(got))
	}
	if bytes.Contains(file, []byte("hello")) {
		t.Fatal("plaintext on disk")
	}
}

func TestSealRejectsTampering(t *testing.T) {
	file := sealed(t, []byte("first chunk"), []byte("second chunk"))
	other := bytes.Repeat([]byte{8}, 32)
	if _, err := open(file, other); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := open([]byte("PRLYSEA"), testKey); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("short: %v", err)
	}
	for i := SealHeaderSize - 44; i < len(file); i += 7 {
		bad := bytes.Clone(file)
		bad[i] ^= 0x40
		if _, err := open(bad, testKey); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	// Cut at a chunk boundary: incomplete, never complete.
	firstLen := 4 + int(uint32(file[SealHeaderSize])<<24|uint32(file[SealHeaderSize+1])<<16|uint32(file[SealHeaderSize+2])<<8|uint32(file[SealHeaderSize+3]))
	cut := file[:SealHeaderSize+firstLen]
	got, err := open(cut, testKey)
	if !errors.Is(err, ErrIncomplete) || string(got) != "first chunk" {
		t.Fatalf("cut file: %q, %v", got, err)
	}
	if _, err := open(append(bytes.Clone(file), 0), testKey); !errors.Is(err, ErrDamaged) {
		t.Fatalf("trailing data: %v", err)
	}
	// Dropping the middle chunk breaks the sequence.
	var dropped []byte
	dropped = append(dropped, file[:SealHeaderSize]...)
	dropped = append(dropped, file[SealHeaderSize+firstLen:]...)
	if _, err := open(dropped, testKey); !errors.Is(err, ErrDamaged) {
		t.Fatalf("dropped chunk: %v", err)
	}
}

// FuzzOpenSealed feeds arbitrary bytes to the sealed-file reader and
// SealedSize: they must fail cleanly, never panic or allocate wildly.
func FuzzOpenSealed(f *testing.F) {
	f.Add(sealed(f, []byte("seed")))
	f.Add(sealed(f))
	f.Add([]byte("PRLYSEAL"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := open(b, testKey)
		if err == nil && len(got) > len(b) {
			t.Fatal("more plaintext than input")
		}
		if _, err := SealedSize(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrNotSealed) && !errors.Is(err, ErrDamaged) {
			t.Fatalf("SealedSize: %v", err)
		}
	})
}
