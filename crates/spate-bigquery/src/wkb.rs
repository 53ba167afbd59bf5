//! Well-known binary (WKB) geometries as well-known text (WKT), for GEOGRAPHY columns a
//! server sends as WKB (BigQuery itself sends WKT; some emulators send `geoarrow.wkb`).
//!
//! Reads the seven OGC geometry types in either byte order, 2D or with Z/M ordinates
//! (ISO codes 1000/2000/3000 or EWKB flags); coordinates beyond X and Y are dropped, as
//! GEOGRAPHY has none. Output is BigQuery's form: `POINT(1 2)`, `LINESTRING(0 0, 1 1)`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, LargeBinaryArray, StringBuilder,
};

/// A column of WKB values as a `Utf8` column of WKT.
pub(crate) fn wkb_column_to_wkt(column: &dyn Array) -> Result<ArrayRef, String> {
    let values: Vec<Option<&[u8]>> = if let Some(a) = column.as_any().downcast_ref::<BinaryArray>()
    {
        a.iter().collect()
    } else if let Some(a) = column.as_any().downcast_ref::<LargeBinaryArray>() {
        a.iter().collect()
    } else if let Some(a) = column.as_any().downcast_ref::<BinaryViewArray>() {
        a.iter().collect()
    } else {
        return Err(format!("expected WKB binary, got {}", column.data_type()));
    };
    let mut out = StringBuilder::with_capacity(values.len(), values.len() * 32);
    for value in values {
        match value {
            Some(bytes) => out.append_value(wkb_to_wkt(bytes)?),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// One WKB geometry as WKT.
pub(crate) fn wkb_to_wkt(bytes: &[u8]) -> Result<String, String> {
    let mut reader = Reader { bytes, at: 0 };
    let mut out = String::with_capacity(bytes.len());
    reader.geometry(&mut out)?;
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A geometry's header: byte order, type and how many ordinates each point has.
#[derive(Clone, Copy)]
struct Header {
    little: bool,
    kind: u32,
    dims: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let slice = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or_else(|| format!("WKB ends early at byte {}", self.at))?;
        self.at += N;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u32(&mut self, little: bool) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn header(&mut self) -> Result<Header, String> {
        let little = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            other => return Err(format!("bad WKB byte order {other}")),
        };
        let code = self.u32(little)?;
        // EWKB flags: Z 0x80000000, M 0x40000000, SRID 0x20000000 (followed by the SRID).
        let (mut dims, mut kind) = (2, code & 0x0fff_ffff);
        dims += usize::from(code & 0x8000_0000 != 0) + usize::from(code & 0x4000_0000 != 0);
        if code & 0x2000_0000 != 0 {
            self.u32(little)?;
        }
        // ISO: 1000 Z, 2000 M, 3000 ZM.
        match kind / 1000 {
            1 | 2 => dims += 1,
            3 => dims += 2,
            _ => {}
        }
        kind %= 1000;
        Ok(Header { little, kind, dims })
    }

    fn geometry(&mut self, out: &mut String) -> Result<(), String> {
        let header = self.header()?;
        let name = match header.kind {
            1 => "POINT",
            2 => "LINESTRING",
            3 => "POLYGON",
            4 => "MULTIPOINT",
            5 => "MULTILINESTRING",
            6 => "MULTIPOLYGON",
            7 => "GEOMETRYCOLLECTION",
            other => return Err(format!("unknown WKB geometry type {other}")),
        };
        out.push_str(name);
        self.body(header, out)
    }

    /// The part after the name: `(1 2)`, `(0 0, 1 1)`, `EMPTY`.
    fn body(&mut self, header: Header, out: &mut String) -> Result<(), String> {
        let little = header.little;
        if header.kind == 1 {
            let mut ordinates = [0f64; 4];
            for value in ordinates.iter_mut().take(header.dims) {
                *value = self.f64(little)?;
            }
            if ordinates[0].is_nan() && ordinates[1].is_nan() {
                out.push_str(" EMPTY");
            } else {
                out.push_str(&format!("({} {})", ordinates[0], ordinates[1]));
            }
            return Ok(());
        }
        let count = self.u32(little)? as usize;
        if count == 0 {
            out.push_str(" EMPTY");
            return Ok(());
        }
        out.push('(');
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            match header.kind {
                2 => self.point(header, out)?,
                3 => self.ring(header, out)?,
                7 => self.geometry(out)?,
                _ => {
                    // Multi-geometries hold full geometries; WKT writes their bodies only.
                    let member = self.header()?;
                    self.body(member, out)?;
                }
            }
        }
        out.push(')');
        Ok(())
    }

    fn point(&mut self, header: Header, out: &mut String) -> Result<(), String> {
        let x = self.f64(header.little)?;
        let y = self.f64(header.little)?;
        for _ in 2..header.dims {
            self.f64(header.little)?;
        }
        out.push_str(&format!("{x} {y}"));
        Ok(())
    }

    fn ring(&mut self, header: Header, out: &mut String) -> Result<(), String> {
        let count = self.u32(header.little)? as usize;
        out.push('(');
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            self.point(header, out)?;
        }
        out.push(')');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Vec<u8> {
        let mut b = vec![1];
        b.extend(1u32.to_le_bytes());
        b.extend(x.to_le_bytes());
        b.extend(y.to_le_bytes());
        b
    }

    #[test]
    fn points_lines_polygons_and_collections() {
        assert_eq!(wkb_to_wkt(&point(1.5, -2.0)).unwrap(), "POINT(1.5 -2)");
        let mut line = vec![0];
        line.extend(2u32.to_be_bytes());
        line.extend(2u32.to_be_bytes());
        for v in [0.0f64, 0.0, 1.0, 1.0] {
            line.extend(v.to_be_bytes());
        }
        assert_eq!(wkb_to_wkt(&line).unwrap(), "LINESTRING(0 0, 1 1)");
        let mut poly = vec![1];
        poly.extend(3u32.to_le_bytes());
        poly.extend(1u32.to_le_bytes());
        poly.extend(4u32.to_le_bytes());
        for v in [0.0f64, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0] {
            poly.extend(v.to_le_bytes());
        }
        assert_eq!(wkb_to_wkt(&poly).unwrap(), "POLYGON((0 0, 1 0, 1 1, 0 0))");
        let mut multi = vec![1];
        multi.extend(4u32.to_le_bytes());
        multi.extend(2u32.to_le_bytes());
        multi.extend(point(1.0, 2.0));
        multi.extend(point(3.0, 4.0));
        assert_eq!(wkb_to_wkt(&multi).unwrap(), "MULTIPOINT((1 2), (3 4))");
        let mut collection = vec![1];
        collection.extend(7u32.to_le_bytes());
        collection.extend(1u32.to_le_bytes());
        collection.extend(point(5.0, 6.0));
        assert_eq!(
            wkb_to_wkt(&collection).unwrap(),
            "GEOMETRYCOLLECTION(POINT(5 6))"
        );
        assert!(wkb_to_wkt(&[1, 1, 0]).is_err());
    }
}
