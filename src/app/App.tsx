import { useCallback, useEffect, useRef, useState } from 'react';
import { AtlasView, type AtlasViewHandle } from '../atlas/AtlasView';
import type { AtlasVisuals } from '../atlas/visuals';
import { ProjectionPreview } from '../atlas/ProjectionPreview';
import type { LayoutPreview } from '../workers/protocol';
import { CellInspector } from '../panels/CellInspector';
import { ConceptPanel } from '../panels/ConceptPanel';
import { NeuronsPanel } from '../panels/NeuronsPanel';
import { DictionaryPanel } from '../panels/DictionaryPanel';
import { InterventionsPanel } from '../panels/InterventionsPanel';
import { StudyOverlay } from '../panels/StudyOverlay';
import { droppedFiles } from '../panels/droppedFiles';
import { ErrorList } from '../panels/ErrorList';
import { InspectorServicesContext } from '../renderers/inspectorServices';
import { ExportPanel } from '../panels/ExportPanel';
import { InputPanel } from '../panels/InputPanel';
import { ModelPanel } from '../panels/ModelPanel';
import { ProjectionPanel } from '../panels/ProjectionPanel';
import { RunPanel } from '../panels/RunPanel';
import { SelectionPanel } from '../panels/SelectionPanel';
import { useAtlasStore } from '../store';
import { AtlasController } from './controller';
import { latentAtlasFromQuery } from './latentAtlasTab';
import { installTestHook } from './testHook';

/** The page: panels on the left, the atlas in the middle, the inspector on the right. */
export function App() {
  const [controller, setController] = useState<AtlasController | null>(null);
  const [visuals, setVisuals] = useState<AtlasVisuals | null>(null);
  const [preview, setPreview] = useState<LayoutPreview | null>(null);
  const viewRef = useRef<AtlasViewHandle>(null);
  const status = useAtlasStore((s) => s.status);
  const hasAtlas = useAtlasStore((s) => s.atlas !== null);
  const atlasOrigin = useAtlasStore((s) => s.atlasOrigin);
  // What the inspector and the direction panels may ask of the workers: only about an atlas built here.
  const services = controller && atlasOrigin === 'build' ? controller.services : null;
  const onVisibleCells = useCallback(
    (gridSize: number, cells: [number, number][]) => controller?.setVisibleCells(gridSize, cells),
    [controller],
  );

  useEffect(() => {
    const query = new URLSearchParams(window.location.search);
    // `?threads=0` turns wasm threads off, wherever the default would turn them on.
    const threads = query.has('threads') ? Number(query.get('threads')) : NaN;
    const backend = { backend: query.get('backend') ?? undefined, threads: Number.isInteger(threads) && threads >= 0 ? threads : undefined };
    const c = new AtlasController(useAtlasStore, setVisuals, backend, setPreview);
    const uninstall = installTestHook(useAtlasStore, () => viewRef.current);
    setController(c);
    void c.start(latentAtlasFromQuery(query));
    return () => {
      uninstall();
      c.dispose();
    };
  }, []);

  return (
    <div
      className="app"
      onDragOver={(e) => e.preventDefault()}
      onDrop={async (e) => {
        e.preventDefault();
        controller?.addFiles(await droppedFiles(e.dataTransfer));
      }}
    >
      <header className="app-header">
        <h1>Activation Atlas Explorer</h1>
      </header>
      <nav className="sidebar">
        <ModelPanel onLoadModel={(source) => controller?.loadModel(source)} onCancelLoad={() => controller?.cancelModelLoad()} />
        <InputPanel
          onFiles={(files) => controller?.addFiles(files)}
          onText={(text) => controller?.addText(text)}
          onUseSample={() => controller?.useSample()}
        />
        <ProjectionPanel />
        <RunPanel
          onRun={() => {
            useAtlasStore.getState().clearErrors();
            void controller?.run();
          }}
          onCancel={() => controller?.cancel()}
        />
        <SelectionPanel />
        <InspectorServicesContext.Provider value={services}>
          <ConceptPanel directions={controller?.directions ?? null} live={atlasOrigin === 'build'} />
          <NeuronsPanel directions={controller?.directions ?? null} live={atlasOrigin === 'build'} />
          <DictionaryPanel dictionary={controller?.dictionary ?? null} directions={controller?.directions ?? null} live={atlasOrigin === 'build'} />
        </InspectorServicesContext.Provider>
        <InterventionsPanel interventions={controller?.interventions ?? null} live={atlasOrigin === 'build'} />
        <ErrorList />
        <ExportPanel
          onExportPng={async (size) => controller?.exportPng(size)}
          onExportJson={() => controller?.exportJson()}
          onExportPoints={() => controller?.exportPointsParquet()}
          onOpenAtlas={(file) => controller?.openAtlasFile(file)}
        />
      </nav>
      <main className="atlas-pane">
        <AtlasView visuals={visuals} ref={viewRef} onVisibleCells={onVisibleCells} />
        {preview && status === 'projecting' && <ProjectionPreview preview={preview} />}
        <InspectorServicesContext.Provider value={services}>
          <StudyOverlay directions={controller?.directions ?? null} />
        </InspectorServicesContext.Provider>
        {!hasAtlas && !(preview && status === 'projecting') && (
          <div className="atlas-placeholder">
            {status === 'error' ? 'No atlas yet: see the problems on the left.' : 'Building the atlas of the built-in model…'}
          </div>
        )}
      </main>
      <InspectorServicesContext.Provider value={services}>
        <CellInspector compare={controller ? (cell) => controller.compareDirections(cell) : undefined} dictionary={atlasOrigin === 'build' ? controller?.dictionary ?? null : null} />
      </InspectorServicesContext.Provider>
    </div>
  );
}
