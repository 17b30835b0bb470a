/* renewal-gis: a big layer drawn from our vector tiles (OGC API – Tiles) with
   Leaflet.VectorGrid, a canvas per tile, styled and with popups as the GeoJSON version
   (renewal.js passes its own styleFor, popupHtml, drawn and loaded). Loaded after VectorGrid,
   as one file with it (maps.assets.TILE_SCRIPTS), only by pages that draw tiles. */
(function () {
  "use strict";
  window.renewalGrid = function (spec, C, map, R) {
    var t = spec.tiles, style = R.styleFor(spec), styles = {};
    styles[t.layer] = function (props) {
      var s = Object.assign({}, style({properties: props}));
      s.fill = t.geometry === "polygon" && s.fill !== false;
      return s;
    };
    /* At most C.tileSlots tiles asked for at once (the page's config: the server's cores), the
       view's middle first: each comes back as fast as the server makes one, instead of all of
       them together at the end. */
    var Grid = L.VectorGrid.Protobuf.extend({
      _getVectorTilePromise: function (coords) {
        var self = this, ask = L.VectorGrid.Protobuf.prototype._getVectorTilePromise;
        return tileSlot(C).then(function (release) {
          var tile = ask.call(self, coords);
          tile.then(release, release);
          return tile;
        });
      }
    });
    var grid = new Grid(t.url, {
      rendererFactory: canvasTile(), vectorTileLayerStyles: styles, interactive: true, pane: "rnTiles", rnLayer: t.layer,
      getFeatureId: function (f) { return f.id; }, fetchOptions: {credentials: "same-origin", priority: "low"}});
    grid.on("click", function (e) {
      L.DomEvent.stopPropagation(e);  /* as an SVG path's click: the map's own click handlers do not see it */
      if (!spec.popup) return;
      var props = Object.assign({}, e.layer.properties || {});
      props.__id = tiledId(grid, e.layer);
      L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(R.popupHtml(props, spec)).openOn(map);
    });
    grid.on("tileload", function (e) {
      var tile = grid._vectorTiles[grid._tileCoordsToKey(e.coords)];
      if (tile && Object.keys(tile._features).length) R.drawn(C);
    });
    grid.on("load", function () {
      var ids = {};
      Object.keys(grid._vectorTiles).forEach(function (k) {
        Object.keys(grid._vectorTiles[k]._features).forEach(function (id) { ids[id] = true; });
      });
      R.loaded(C, spec, Object.keys(ids).length);
    });
    return grid;
  };
  /* Tiles drawn on a canvas each: a zoom-14 tile of parcels is ~430 features, as SVG ~60 ms
     of the page's main thread (elements, style, layout), as canvas a few (500k parcels: the
     whole first view drawn in 1.05 s instead of 1.38, bench_maps). VectorGrid 1.3's canvas
     tile calls L.DomEvent.fakeStop on a click, gone since Leaflet 1.8: its click is Leaflet
     1.9's own (a click beside the features reaches the map). Drawn at the screen's pixel
     ratio; the tile says which layer it holds and, once drawn, how many features
     (data-layer, data-features: the tests and bench_maps find drawn parcels by them). */
  function canvasTile() {
    if (!L.Canvas.RnTile) L.Canvas.RnTile = L.Canvas.Tile.extend({
      initialize: function (coords, size, options) {
        L.Canvas.Tile.prototype.initialize.call(this, coords, size, options);
        var c = this._container, r = window.devicePixelRatio || 1;
        c.setAttribute("data-layer", options.rnLayer);
        if (r !== 1) {
          c.width = Math.round(size.x * r); c.height = Math.round(size.y * r);
          c.style.width = size.x + "px"; c.style.height = size.y + "px";
          this._ctx.scale(r, r);
        }
      },
      addTo: function (map) {  /* called once the tile's features are drawn */
        L.Canvas.Tile.prototype.addTo.call(this, map);
        this._container.setAttribute("data-features", String(Object.keys(this._features || {}).length));
      },
      _onClick: function (e) {
        var point = this._map.mouseEventToLayerPoint(e).subtract(this.getOffset()), hit = null;
        for (var id in this._layers) {
          var layer = this._layers[id];
          if (layer.options.interactive && layer._containsPoint(point) && !this._map._draggableMoved(layer)) hit = layer;
        }
        this._fireEvent(hit ? [hit] : false, e);
      }
    });
    return function (coords, size, options) { return new L.Canvas.RnTile(coords, size, options); };
  }
  function tileSlot(C) {
    var q = C._tileQueue || (C._tileQueue = {free: C.tileSlots || 4, waiting: []});
    return new Promise(function (resolve) {
      var grant = function () {
        var done = false;
        q.free -= 1;
        resolve(function () {
          if (done) return;
          done = true; q.free += 1;
          if (q.waiting.length) q.waiting.shift()();
        });
      };
      if (q.free > 0) grant(); else q.waiting.push(grant);
    });
  }
  /* The id of a feature drawn from a tile (the store's id, kept in the tile). */
  function tiledId(grid, layer) {
    var tile = layer._renderer, found = null;
    Object.keys((tile && tile._features) || {}).forEach(function (id) { if (tile._features[id].feature === layer) found = id; });
    return found;
  }
})();
