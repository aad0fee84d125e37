package reference_test

import (
	"encoding/hex"
	"testing"

	"github.com/coinjecture/coinjecture/clients/go/internal/golden"
	"github.com/coinjecture/coinjecture/clients/go/reference"
)

// TestGoldenVectors recomputes the whole expected object of every case of golden/*.json from
// its inputs and requires exactly the same fields with exactly the same values (README §1.1).
func TestGoldenVectors(t *testing.T) {
	dir, err := golden.Dir()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := golden.LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	for i := range cases {
		c := &cases[i]
		perFile[c.File]++
		t.Run(c.ID(), func(t *testing.T) {
			got, err := golden.Compute(c)
			if err != nil {
				t.Fatalf("compute: %v", err)
			}
			diffs, err := golden.Diff(got, c.Expected)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
	for _, f := range golden.OurFiles {
		if perFile[f] < 3 {
			t.Errorf("%s: only %d cases", f, perFile[f])
		}
	}
	t.Logf("%d cases in %d files", len(cases), len(golden.OurFiles))
}

// TestUpstreamVectors checks the 50 vectors of the public v4 core with their documented quirks
// (README §1.2).
func TestUpstreamVectors(t *testing.T) {
	dir, err := golden.Dir()
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := golden.LoadUpstream(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vectors) != 50 {
		t.Errorf("%d upstream vectors, want 50", len(vectors))
	}
	for i := range vectors {
		v := &vectors[i]
		t.Run(v.TestName, func(t *testing.T) {
			var got, want string
			switch v.Operation {
			case "SHA256":
				h := reference.Sha256(v.SHA256Input())
				got, want = hex.EncodeToString(h[:]), v.ExpectedHash
			case "MERKLE":
				leaves, err := v.MerkleLeaves()
				if err != nil {
					t.Fatal(err)
				}
				r := reference.MerkleRoot(leaves)
				got, want = hex.EncodeToString(r[:]), v.ExpectedRoot
			case "BLOCK_HEADER":
				h, err := v.Header.Header()
				if err != nil {
					t.Fatal(err)
				}
				hash, err := h.Hash()
				if err != nil {
					t.Fatal(err)
				}
				got, want = hex.EncodeToString(hash[:]), v.ExpectedHash
			default:
				t.Fatalf("unknown operation %q", v.Operation)
			}
			if got != want {
				t.Errorf("%s: computed %s, expected %s", v.Operation, got, want)
			}
		})
	}
}
